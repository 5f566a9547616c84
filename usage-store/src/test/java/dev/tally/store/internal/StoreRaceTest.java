package dev.tally.store.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tally.store.AppendResult;
import dev.tally.store.UsageEvent;
import dev.tally.store.testing.MutableClock;
import dev.tally.store.testing.TestEvents;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Appends (with retries of earlier events), rollovers, expired-segment retention, seals, orphan
 * cleanup and queries run at the same time for a bounded number of rounds; no query ever sees a
 * row twice, and at the end every acknowledged event is stored exactly once.
 */
class StoreRaceTest {
    @TempDir
    Path dir;

    /** A short run in the default test run. */
    @Test
    void concurrentOperations_keepEveryEventExactlyOnce() throws Exception {
        race(12, 42L);
    }

    /** The long run: -Plong. */
    @Test
    @Tag("long")
    void concurrentOperations_longRun_keepEveryEventExactlyOnce() throws Exception {
        race(200, Long.getLong("tally.seed", 9L));
    }

    private void race(int rounds, long seed) throws Exception {
        MutableClock clock = new MutableClock(StoreFixture.NOW);
        Set<String> acknowledged = ConcurrentHashMap.newKeySet();
        ConcurrentLinkedQueue<Throwable> errors = new ConcurrentLinkedQueue<>();
        AtomicBoolean done = new AtomicBoolean();
        try (TieredStore store = TieredStore.open(StoreFixture.config(dir, clock, 1L << 20), Runnable::run,
                TieredStore.DEFAULT_HOOKS)) {
            List<Thread> threads = new ArrayList<>();
            for (int w = 0; w < 2; w++) {
                int writer = w;
                threads.add(new Thread(() -> {
                    Random r = new Random(seed + writer);
                    List<UsageEvent> sent = new ArrayList<>();
                    for (int round = 0; round < rounds; round++) {
                        List<UsageEvent> batch = new ArrayList<>(TestEvents.batch("acme", "w" + writer + "r" + round,
                                400, 8, StoreFixture.NOW, Duration.ofDays(30), seed * 31 + round));
                        for (int i = 0; i < 20 && !sent.isEmpty(); i++) {
                            batch.add(sent.get(r.nextInt(sent.size()))); // a producer retry
                        }
                        AppendResult res = store.append(batch);
                        assertEquals(batch.size(), res.total());
                        sent.addAll(batch.subList(0, 400));
                        batch.subList(0, 400).forEach(e -> acknowledged.add(e.tenant() + "/" + e.id()));
                    }
                }, "writer-" + w));
            }
            threads.add(new Thread(() -> {
                Random r = new Random(seed + 100);
                while (!done.get()) {
                    switch (r.nextInt(4)) {
                        case 0 -> store.rollover("race test");
                        case 1 -> store.sealPending();
                        case 2 -> store.retention(false);
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
            Map<String, Integer> counts = TierScan.idCounts(store);
            assertEquals(acknowledged.size(), counts.size(), "seed " + seed);
            for (String id : acknowledged) {
                assertEquals(1, counts.get(id), "seed " + seed + ": " + id);
            }
            assertTrue(store.metrics().seals() > 1, "the race really sealed while appending");
        }
    }
}
