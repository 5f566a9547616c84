package dev.tally.store.internal;

import static dev.tally.store.testing.TestEvents.event;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tally.store.AppendResult;
import dev.tally.store.testing.DiskRows;
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
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReentrantLock;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The write gate: an append in flight (parked by the test seam between its write and its commit,
 * holding the gate) must block rollover and expired-segment retention until it commits, so no
 * current row is written into a segment that is being sealed or discarded. The gate-removed
 * variants show that without it an acknowledged row is lost, counted from the files on disk.
 */
class WriteGateTest {
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
        ReentrantLock gate = new ReentrantLock(true);
        try (TieredStore store = StoreFixture.open(StoreFixture.config(dir, clock),
                TieredStore.DEFAULT_HOOKS.withSeam(seam).withGate(gate))) {
            Instant t = StoreFixture.NOW.minusSeconds(10);
            store.append(List.of(event("acme", "first", "k", t, 1)));

            parkNext.set(true);
            Future<AppendResult> append = threads.submit(() -> store.append(List.of(event("acme", "inflight", "k", t, 2))));
            assertTrue(parked.await(60, TimeUnit.SECONDS), "append never reached the seam");

            Future<Boolean> rollover = threads.submit(() -> store.rollover("test"));
            // Deterministic: the rollover thread is queued on the gate the parked append holds.
            await().atMost(Duration.ofSeconds(60)).until(gate::hasQueuedThreads);
            assertTrue(gate.isLocked());
            assertFalse(rollover.isDone(), "rollover must wait on the write gate while an append is in flight");

            release.countDown();
            assertEquals(1, append.get(60, TimeUnit.SECONDS).accepted());
            assertTrue(rollover.get(60, TimeUnit.SECONDS));
            store.sealPending();
            assertEquals(2, store.total("acme", "llm.request", "k", "$.input_tokens", t.minusSeconds(60),
                    t.plusSeconds(60)).events());
        }
        DiskRows.Scan onDisk = DiskRows.scan(dir);
        assertEquals(1, onDisk.count("acme/first"));
        assertEquals(1, onDisk.count("acme/inflight"));
    }

    /**
     * Retention of an expired active segment waits for an append of a current row parked inside
     * the gate; afterwards the current row is kept and only expired detail is dropped.
     */
    @Test
    void retention_expiredActiveWithAppendInFlightLosesNothing() throws Exception {
        ReentrantLock gate = new ReentrantLock(true);
        try (TieredStore store = StoreFixture.open(StoreFixture.config(dir, clock),
                TieredStore.DEFAULT_HOOKS.withSeam(seam).withGate(gate))) {
            Instant old = StoreFixture.NOW.minus(Duration.ofDays(34));
            store.append(List.of(event("acme", "backfill", "k", old, 1)));
            clock.advance(Duration.ofDays(2)); // the backfilled row is now past the 35-day cutoff
            Instant current = clock.instant().minusSeconds(5);

            parkNext.set(true);
            Future<AppendResult> append = threads.submit(() -> store.append(List.of(event("acme", "current", "k", current, 7))));
            assertTrue(parked.await(60, TimeUnit.SECONDS));

            Future<?> retention = threads.submit(() -> store.retention(false));
            await().atMost(Duration.ofSeconds(60)).until(gate::hasQueuedThreads);
            assertFalse(retention.isDone(), "retention must wait on the write gate while an append is in flight");

            release.countDown();
            assertEquals(1, append.get(60, TimeUnit.SECONDS).accepted());
            retention.get(60, TimeUnit.SECONDS);

            var totals = store.total("acme", "llm.request", "k", "$.input_tokens", old.minusSeconds(1),
                    clock.instant().plusSeconds(1));
            assertEquals(1, totals.events(), "the current row must survive; the expired one is gone from detail");
            assertEquals(7, totals.sum().intValue());
        }
        assertEquals(1, DiskRows.scan(dir).count("acme/current"));
    }

    /** Parks the next append once it chose its segment, before it writes: the window the gate closes. */
    private final AppendSeam parkAfterChoosing = new AppendSeam() {
        @Override
        public void segmentChosen(long segmentSeq) {
            seam.beforeCommit(segmentSeq);
        }

        @Override
        public void beforeCommit(long segmentSeq) {
        }
    };

    /**
     * With the gate removed, an append that chose the active segment writes into it after a
     * rollover and seal (a query still pins the sealed segment): the append is acknowledged, and
     * its row is in no file on disk once the segment is deleted. This is what the gate prevents.
     */
    @Test
    void rollover_gateRemoved_acknowledgedRowLost() throws Exception {
        Instant t = StoreFixture.NOW.minusSeconds(10);
        try (TieredStore store = StoreFixture.open(StoreFixture.config(dir, clock),
                TieredStore.DEFAULT_HOOKS.withSeam(parkAfterChoosing).withGate(new NoLock()))) {
            store.append(List.of(event("acme", "first", "k", t, 1)));
            parkNext.set(true);
            Future<AppendResult> append = threads.submit(() -> store.append(List.of(event("acme", "inflight", "k", t, 2))));
            assertTrue(parked.await(60, TimeUnit.SECONDS), "append never reached the seam");
            TierView query = store.acquireView();
            assertTrue(store.rollover("test"), "nothing blocks the rollover");
            store.sealPending();
            release.countDown();
            assertEquals(1, append.get(60, TimeUnit.SECONDS).accepted(), "the in-flight append was acknowledged");
            query.release();
        }
        DiskRows.Scan onDisk = DiskRows.scan(dir);
        assertEquals(1, onDisk.count("acme/first"));
        assertEquals(0, onDisk.count("acme/inflight"), "without the gate the acknowledged row is lost");
    }

    /**
     * With the gate removed, retention rolls and seals an expired active segment while an append
     * of a current row that chose it is in flight: the append is acknowledged, yet its row is in
     * no file once the segment is deleted.
     */
    @Test
    void retention_gateRemoved_acknowledgedRowLost() throws Exception {
        try (TieredStore store = StoreFixture.open(StoreFixture.config(dir, clock),
                TieredStore.DEFAULT_HOOKS.withSeam(parkAfterChoosing).withGate(new NoLock()))) {
            Instant old = StoreFixture.NOW.minus(Duration.ofDays(34));
            store.append(List.of(event("acme", "backfill", "k", old, 1)));
            clock.advance(Duration.ofDays(2));
            Instant current = clock.instant().minusSeconds(5);
            parkNext.set(true);
            Future<AppendResult> append = threads.submit(() -> store.append(List.of(event("acme", "current", "k", current, 7))));
            assertTrue(parked.await(60, TimeUnit.SECONDS));
            TierView query = store.acquireView();
            store.retention(false); // nothing blocks it
            release.countDown();
            assertEquals(1, append.get(60, TimeUnit.SECONDS).accepted(), "the in-flight append was acknowledged");
            query.release();
        }
        assertEquals(0, DiskRows.scan(dir).count("acme/current"), "without the gate the acknowledged row is lost");
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
