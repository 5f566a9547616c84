package dev.tally.store.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tally.store.testing.MutableClock;
import dev.tally.store.testing.TestEvents;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Reads that run while segments are sealed see every row exactly once. The overlap is made
 * certain: at each named step of the seal (part written, parts renamed, manifest published) the
 * sealing thread waits for a read that another thread runs right then.
 */
class ReadDuringSealTest {
    @TempDir
    Path dir;

    /** Every total taken during a series of seals, at every seal step and in a loop alongside, counts each stored event exactly once. */
    @Test
    void total_duringSealsSeesEveryRowExactlyOnce() throws Exception {
        MutableClock clock = new MutableClock(StoreFixture.NOW);
        ExecutorService readers = Executors.newFixedThreadPool(2);
        Instant from = StoreFixture.NOW.minus(Duration.ofDays(3));
        Instant to = StoreFixture.NOW.plusSeconds(1);
        AtomicReference<TieredStore> storeRef = new AtomicReference<>();
        Map<CrashPoint.Step, List<Long>> readsAtStep = new ConcurrentHashMap<>();
        CrashPoint readHere = step -> {
            if (step.phase() == CrashPoint.Phase.SEAL) {
                try {
                    long n = CompletableFuture.supplyAsync(() -> storeRef.get()
                            .total("acme", "llm.request", "key-0", "$.input_tokens", from, to).events(), readers)
                            .get(60, TimeUnit.SECONDS);
                    readsAtStep.computeIfAbsent(step, k -> new CopyOnWriteArrayList<>()).add(n);
                } catch (Exception e) {
                    throw new IllegalStateException("read at " + step + " failed", e);
                }
            }
        };
        try (TieredStore store = StoreFixture.open(StoreFixture.config(dir, clock),
                TieredStore.DEFAULT_HOOKS.withCrash(readHere))) {
            storeRef.set(store);
            long stored = 0;
            for (int round = 0; round < 6; round++) {
                stored += store.append(TestEvents.batch("acme", "r" + round, 3_000, 1, StoreFixture.NOW,
                        Duration.ofDays(2), round)).accepted();
                long expected = stored;
                readsAtStep.clear();
                CompletableFuture<Void> seal = CompletableFuture.runAsync(store::sealNow);
                List<Long> seen = new ArrayList<>();
                CompletableFuture<Void> read = CompletableFuture.runAsync(() -> {
                    do {
                        seen.add(store.total("acme", "llm.request", "key-0", "$.input_tokens", from, to).events());
                    } while (!seal.isDone());
                }, readers);
                seal.get(60, TimeUnit.SECONDS);
                read.get(60, TimeUnit.SECONDS);
                for (long n : seen) {
                    assertEquals(expected, n, "a read during the seal saw " + n + " rows, not " + expected);
                }
                for (CrashPoint.Step step : List.of(CrashPoint.SEAL_PART_TMP, CrashPoint.SEAL_PARTS_RENAMED,
                        CrashPoint.SEAL_PUBLISHED)) {
                    List<Long> at = readsAtStep.getOrDefault(step, List.of());
                    assertTrue(!at.isEmpty(), "round " + round + ": no read overlapped seal step " + step);
                    for (long n : at) {
                        assertEquals(expected, n, "a read at seal step " + step + " saw " + n + " rows, not " + expected);
                    }
                }
            }
        } finally {
            readers.shutdownNow();
        }
    }
}
