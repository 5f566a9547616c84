package dev.tally.store.internal;

import static dev.tally.store.testing.TestEvents.event;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tally.store.AppendResult;
import dev.tally.store.testing.MutableClock;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.Lock;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The write gate: an append in flight (parked by the test seam between its write and its commit,
 * holding the gate) must block rollover and expired-segment retention until it commits, so no
 * current row is written into a segment that is being sealed or discarded.
 */
class WriteGateTest {
    private static final Duration BLOCKED = Duration.ofMillis(300);

    @TempDir
    Path dir;

    private final MutableClock clock = new MutableClock(StoreFixture.NOW);
    private final ExecutorService threads = Executors.newFixedThreadPool(2);
    private final CountDownLatch parked = new CountDownLatch(1);
    private final CountDownLatch release = new CountDownLatch(1);
    private final AtomicBoolean parkNext = new AtomicBoolean();

    private final AppendSeam seam = seq -> {
        if (parkNext.compareAndSet(true, false)) {
            parked.countDown();
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    };

    @AfterEach
    void stop() {
        release.countDown();
        threads.shutdownNow();
    }

    /** A rollover waits for an append parked inside the gate, then completes, and both rows survive the seal. */
    @Test
    void rollover_blocksWhileAppendInFlightThenCompletes() throws Exception {
        try (TieredStore store = StoreFixture.open(StoreFixture.config(dir, clock),
                TieredStore.DEFAULT_HOOKS.withSeam(seam))) {
            Instant t = StoreFixture.NOW.minusSeconds(10);
            store.append(List.of(event("acme", "first", "k", t, 1)));

            parkNext.set(true);
            Future<AppendResult> append = threads.submit(() -> store.append(List.of(event("acme", "inflight", "k", t, 2))));
            assertTrue(parked.await(10, TimeUnit.SECONDS), "append never reached the seam");

            Future<Boolean> rollover = threads.submit(() -> store.rollover("test"));
            assertThrows(TimeoutException.class, () -> rollover.get(BLOCKED.toMillis(), TimeUnit.MILLISECONDS),
                    "rollover must block on the write gate while an append is in flight");

            release.countDown();
            assertEquals(1, append.get(10, TimeUnit.SECONDS).accepted());
            assertTrue(rollover.get(10, TimeUnit.SECONDS));
            store.sealPending();
            assertEquals(2, store.total("acme", "llm.request", "k", "$.input_tokens", t.minusSeconds(60),
                    t.plusSeconds(60)).events());
        }
    }

    /**
     * Retention of an expired active segment waits for an append of a current row parked inside
     * the gate; afterwards the current row is kept and only expired detail is dropped.
     */
    @Test
    void retention_expiredActiveWithAppendInFlightLosesNothing() throws Exception {
        try (TieredStore store = StoreFixture.open(StoreFixture.config(dir, clock),
                TieredStore.DEFAULT_HOOKS.withSeam(seam))) {
            Instant old = StoreFixture.NOW.minus(Duration.ofDays(34));
            store.append(List.of(event("acme", "backfill", "k", old, 1)));
            clock.advance(Duration.ofDays(2)); // the backfilled row is now past the 35-day cutoff
            Instant current = clock.instant().minusSeconds(5);

            parkNext.set(true);
            Future<AppendResult> append = threads.submit(() -> store.append(List.of(event("acme", "current", "k", current, 7))));
            assertTrue(parked.await(10, TimeUnit.SECONDS));

            Future<?> retention = threads.submit(() -> store.retention(false));
            assertThrows(TimeoutException.class, () -> retention.get(BLOCKED.toMillis(), TimeUnit.MILLISECONDS),
                    "retention must block on the write gate while an append is in flight");

            release.countDown();
            assertEquals(1, append.get(10, TimeUnit.SECONDS).accepted());
            retention.get(10, TimeUnit.SECONDS);

            var totals = store.total("acme", "llm.request", "k", "$.input_tokens", old.minusSeconds(1),
                    clock.instant().plusSeconds(1));
            assertEquals(1, totals.events(), "the current row must survive; the expired one is gone from detail");
            assertEquals(7, totals.sum().intValue());
        }
    }

    /**
     * With the gate removed the same scenario no longer blocks: the rollover finishes while the
     * append is still in flight. This is what makes the two tests above fail without the gate.
     */
    @Test
    void rollover_withGateRemovedDoesNotWaitForAppend() throws Exception {
        try (TieredStore store = StoreFixture.open(StoreFixture.config(dir, clock),
                TieredStore.DEFAULT_HOOKS.withSeam(seam).withGate(new NoLock()))) {
            Instant t = StoreFixture.NOW.minusSeconds(10);
            store.append(List.of(event("acme", "first", "k", t, 1)));
            parkNext.set(true);
            Future<AppendResult> append = threads.submit(() -> store.append(List.of(event("acme", "inflight", "k", t, 2))));
            assertTrue(parked.await(10, TimeUnit.SECONDS));
            Future<Boolean> rollover = threads.submit(() -> store.rollover("test"));
            // Done (normally or with an error) while the append still holds its transaction open.
            try {
                rollover.get(10, TimeUnit.SECONDS);
            } catch (java.util.concurrent.ExecutionException e) {
                // a failed rollover also proves it did not wait for the append
            }
            assertTrue(rollover.isDone());
            assertFalse(append.isDone(), "the append is still parked");
            release.countDown();
            try {
                append.get(10, TimeUnit.SECONDS);
            } catch (java.util.concurrent.ExecutionException e) {
                // without the gate the in-flight append may fail or land in a rolled segment
            }
        }
    }

    /** A lock that does nothing: the write gate removed. */
    private static final class NoLock implements Lock {
        @Override
        public void lock() {
        }

        @Override
        public void lockInterruptibly() {
        }

        @Override
        public boolean tryLock() {
            return true;
        }

        @Override
        public boolean tryLock(long time, TimeUnit unit) {
            return true;
        }

        @Override
        public void unlock() {
        }

        @Override
        public Condition newCondition() {
            throw new UnsupportedOperationException();
        }
    }
}
