package dev.tally.store.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tally.store.AppendResult;
import dev.tally.store.RetentionReason;
import dev.tally.store.RetentionReport;
import dev.tally.store.UsageEvent;
import dev.tally.store.testing.DiskRows;
import dev.tally.store.testing.MutableClock;
import dev.tally.store.testing.RunResult;
import dev.tally.store.testing.TestEvents;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Appends (with retries of earlier events), rollovers, expired-segment retention, seals, orphan
 * cleanup and queries run at the same time for a bounded number of rounds while the clock moves 6
 * hours a round, so the oldest days really expire: retention deletes detail and rolls expired
 * segments while the writers go on (asserted). No query ever sees a row twice, and at the end,
 * counted from the files on disk, every acknowledged current event is stored exactly once, none
 * twice, nothing that was not acknowledged.
 */
class StoreRaceTest {
    @TempDir
    Path dir;

    /** A short run in the default test run. */
    @Test
    void concurrentOperations_keepEveryEventExactlyOnce() throws Exception {
        race(12, 42L, "short");
    }

    /** The mid-size run that CI runs after the default run: -Pmid. */
    @Test
    @Tag("mid")
    void concurrentOperations_midRun_keepEveryEventExactlyOnce() throws Exception {
        race(50, Long.getLong("tally.seed", 50L), "mid");
    }

    /** The long run: -Plong. */
    @Test
    @Tag("long")
    void concurrentOperations_longRun_keepEveryEventExactlyOnce() throws Exception {
        race(200, Long.getLong("tally.seed", 9L), "long");
    }

    private void race(int rounds, long seed, String run) throws Exception {
        long started = System.nanoTime();
        MutableClock clock = new MutableClock(StoreFixture.NOW);
        Map<String, Instant> acknowledged = new ConcurrentHashMap<>();
        ConcurrentLinkedQueue<Throwable> errors = new ConcurrentLinkedQueue<>();
        AtomicBoolean done = new AtomicBoolean();
        AtomicInteger writersLeft = new AtomicInteger(2);
        AtomicInteger rolledWhileWriting = new AtomicInteger();
        AtomicInteger expiredWhileWriting = new AtomicInteger();
        try (TieredStore store = TieredStore.open(StoreFixture.config(dir, clock, 1L << 20), Runnable::run,
                TieredStore.DEFAULT_HOOKS)) {
            List<Thread> threads = new ArrayList<>();
            for (int w = 0; w < 2; w++) {
                int writer = w;
                threads.add(new Thread(() -> {
                    Random r = new Random(seed + writer);
                    List<UsageEvent> sent = new ArrayList<>();
                    for (int round = 0; round < rounds; round++) {
                        if (writer == 0) {
                            // Time moves: the oldest days pass the 35-day detail cutoff while writing goes on.
                            clock.advance(Duration.ofHours(6));
                        }
                        if (writer == 0 && round == rounds / 2) {
                            // Overlap by construction, whatever the machine's speed: mid-run, while
                            // writer 1 goes on, roll the active segment, then move the clock until
                            // retention deletes a part whose day expired (at most 10 days on).
                            if (store.rollover("race test, mid-run")) {
                                rolledWhileWriting.incrementAndGet();
                            }
                            for (int i = 0; i < 40 && expiredWhileWriting.get() == 0; i++) {
                                clock.advance(Duration.ofHours(6));
                                store.sealPending();
                                if (expiredDetail(store.retention(false))) {
                                    expiredWhileWriting.incrementAndGet();
                                }
                            }
                        }
                        List<UsageEvent> batch = new ArrayList<>(TestEvents.batch("acme", "w" + writer + "r" + round,
                                400, 8, StoreFixture.NOW, Duration.ofDays(34).plusHours(12), seed * 31 + round));
                        for (int i = 0; i < 20 && !sent.isEmpty(); i++) {
                            batch.add(sent.get(r.nextInt(sent.size()))); // a producer retry
                        }
                        AppendResult res = store.append(batch);
                        assertEquals(batch.size(), res.total());
                        Set<Integer> refused = new HashSet<>();
                        res.rejected().forEach(x -> refused.add(x.index()));
                        for (int i = 0; i < 400; i++) {
                            UsageEvent e = batch.get(i);
                            if (!refused.contains(i)) {
                                sent.add(e);
                                acknowledged.put(e.tenant() + "/" + e.id(), e.time());
                            }
                        }
                    }
                    writersLeft.decrementAndGet();
                }, "writer-" + w));
            }
            threads.add(new Thread(() -> {
                Random r = new Random(seed + 100);
                while (!done.get()) {
                    boolean writing = writersLeft.get() > 0;
                    switch (r.nextInt(4)) {
                        case 0 -> {
                            if (store.rollover("race test") && writing) {
                                rolledWhileWriting.incrementAndGet();
                            }
                        }
                        case 1 -> store.sealPending();
                        case 2 -> {
                            if (expiredDetail(store.retention(false)) && writing) {
                                expiredWhileWriting.incrementAndGet();
                            }
                        }
                        default -> store.maintain();
                    }
                }
            }, "maintenance"));
            threads.add(new Thread(() -> {
                while (!done.get()) {
                    try {
                        Map<String, Integer> counts = TierScan.idCounts(store);
                        counts.forEach((id, n) -> {
                            if (n != 1) {
                                errors.add(new AssertionError("a query saw " + id + " " + n + " times"));
                            }
                        });
                        store.total("acme", "llm.request", "key-1", "$.input_tokens", Instant.MIN.plusSeconds(1),
                                Instant.MAX.minusSeconds(1));
                    } catch (Exception e) {
                        errors.add(e);
                    }
                }
            }, "reader"));
            for (Thread t : threads) {
                t.setUncaughtExceptionHandler((th, e) -> errors.add(e));
                t.start();
            }
            threads.get(0).join();
            threads.get(1).join();
            done.set(true);
            for (Thread t : threads) {
                t.join();
            }
            assertTrue(errors.isEmpty(), "seed " + seed + ": " + errors.size() + " errors, first: "
                    + errors.stream().limit(3).toList());
            store.sealNow();
            assertTrue(store.metrics().seals() > 1, "the race really sealed while appending");
        }
        assertTrue(rolledWhileWriting.get() > 0, "seed " + seed + ": no rollover overlapped the writers");
        assertTrue(expiredWhileWriting.get() > 0, "seed " + seed + ": no retention deletion overlapped the writers");
        // Counted from the files: a current event exactly once; one near or past the cutoff at most once.
        Instant surelyCurrent = clock.instant().minus(Duration.ofDays(34));
        DiskRows.Scan onDisk = DiskRows.scan(dir);
        long lost = acknowledged.entrySet().stream()
                .filter(e -> !e.getValue().isBefore(surelyCurrent) && onDisk.count(e.getKey()) == 0).count();
        RunResult.write("StoreRaceTest-" + run, RunResult.of("StoreRaceTest", run, seed, 0, acknowledged.size(),
                onDisk.counts().size(), lost, onDisk.doubled().size(), 0,
                Duration.ofNanos(System.nanoTime() - started).toSeconds()));
        assertEquals(List.of(), onDisk.doubled(), "seed " + seed + ": stored twice");
        int current = 0;
        for (Map.Entry<String, Instant> e : acknowledged.entrySet()) {
            if (!e.getValue().isBefore(surelyCurrent)) {
                current++;
                assertEquals(1, onDisk.count(e.getKey()), "seed " + seed + ": " + e.getKey() + " at " + e.getValue());
            }
        }
        assertTrue(current > 0 && current < acknowledged.size(), "seed " + seed + ": " + current + " of "
                + acknowledged.size() + " acknowledged events still current: the clock should expire some");
        for (String key : onDisk.counts().keySet()) {
            assertTrue(acknowledged.containsKey(key), "seed " + seed + ": stored but never acknowledged: " + key);
        }
    }

    private static boolean expiredDetail(RetentionReport report) {
        return report.actions().stream().anyMatch(a -> a.reason() == RetentionReason.DETAIL_EXPIRED
                || a.reason() == RetentionReason.ACTIVE_SEGMENT_EXPIRED);
    }
}
