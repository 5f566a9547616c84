package dev.tally.store.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tally.store.testing.MutableClock;
import dev.tally.store.testing.TestEvents;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Reads that run while segments are sealed see every row exactly once. */
class ReadDuringSealTest {
    @TempDir
    Path dir;

    /** Every total taken during a series of seals counts each stored event exactly once. */
    @Test
    void total_duringSealsSeesEveryRowExactlyOnce() throws Exception {
        MutableClock clock = new MutableClock(StoreFixture.NOW);
        ExecutorService readers = Executors.newFixedThreadPool(2);
        Instant from = StoreFixture.NOW.minus(Duration.ofDays(3));
        Instant to = StoreFixture.NOW.plusSeconds(1);
        try (TieredStore store = StoreFixture.open(StoreFixture.config(dir, clock))) {
            long stored = 0;
            for (int round = 0; round < 6; round++) {
                stored += store.append(TestEvents.batch("acme", "r" + round, 3_000, 1, StoreFixture.NOW,
                        Duration.ofDays(2), round)).accepted();
                long expected = stored;
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
            }
        } finally {
            readers.shutdownNow();
        }
    }
}
