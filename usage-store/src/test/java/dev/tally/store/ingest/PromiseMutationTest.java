package dev.tally.store.ingest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.tally.store.UsageEvent;
import dev.tally.store.dlq.DeadLetterQueue;
import dev.tally.store.internal.AppendSeam;
import dev.tally.store.mutation.Mutation;
import dev.tally.store.internal.TestStores;
import dev.tally.store.internal.TieredStore;
import dev.tally.store.journal.Journal;
import dev.tally.store.journal.JournalConfig;
import dev.tally.store.testing.DiskRows;
import dev.tally.store.testing.MutableClock;
import dev.tally.store.testing.TestEvents;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Mutation checks for the import promises: each scenario runs with the promise in place (every
 * event stored once) and with it switched off ({@link Mutation}), where the same test must see
 * events lost or doubled. Rows are counted from the files on disk ({@link DiskRows}), not through
 * the store.
 */
class PromiseMutationTest {
    static final Instant NOW = Instant.parse("2026-11-20T12:00:00Z");
    private static final int EVENTS = 200;

    @TempDir
    Path dir;

    private final MutableClock clock = new MutableClock(NOW);

    /** A batch whose commit fails is imported again in full on the retry, because its position committed with it. */
    @Test
    void importRetry_positionInTransaction_everyEventOnceOnDisk() throws Exception {
        DiskRows.Scan scan = importWithOneFailedCommit(Set.of());
        assertEquals(EVENTS, scan.counts().size());
        assertEquals(List.of(), scan.doubled());
    }

    /** With the position committed outside the batch's transaction, the failed batch is skipped on the retry: lost. */
    @Test
    void importRetry_positionOutsideTransaction_eventsLost() throws Exception {
        DiskRows.Scan scan = importWithOneFailedCommit(Set.of(Mutation.POSITION_OUTSIDE_TRANSACTION));
        assertEquals(0, scan.counts().size(), "the position moved past rows that never committed");
    }

    /** A producer's retry of an imported batch is dropped by the duplicate check: every event once on disk. */
    @Test
    void producerRetry_dedupCheck_everyEventOnceOnDisk() throws Exception {
        DiskRows.Scan scan = importWithProducerRetry(Set.of());
        assertEquals(EVENTS, scan.counts().size());
        assertEquals(List.of(), scan.doubled());
    }

    /** Without the duplicate check a producer's retry stores every event twice. */
    @Test
    void producerRetry_noDedupCheck_eventsDoubled() throws Exception {
        DiskRows.Scan scan = importWithProducerRetry(Set.of(Mutation.NO_DEDUP_CHECK));
        assertEquals(EVENTS, scan.doubled().size(), "every retried event stored twice");
    }

    private DiskRows.Scan importWithOneFailedCommit(Set<Mutation> off) throws Exception {
        AtomicBoolean fail = new AtomicBoolean(true);
        AppendSeam seam = seam(off, () -> {
            if (fail.getAndSet(false)) {
                throw new IllegalStateException("disk full (simulated)");
            }
        });
        try (TieredStore store = TestStores.open(dir, clock, seam); Journal journal = journal()) {
            journal.append(events());
            Importer importer = importer(store);
            assertThrows(IllegalStateException.class, importer::runOnce);
            importer.runOnce();
            store.sealNow();
        }
        return DiskRows.scan(dir);
    }

    private DiskRows.Scan importWithProducerRetry(Set<Mutation> off) throws Exception {
        try (TieredStore store = TestStores.open(dir, clock, seam(off, () -> { })); Journal journal = journal()) {
            journal.append(events());
            Importer importer = importer(store);
            importer.runOnce();
            journal.append(events()); // the producer never saw the first acknowledgement and retries
            importer.runOnce();
            store.sealNow();
        }
        return DiskRows.scan(dir);
    }

    private List<UsageEvent> events() {
        return TestEvents.batch("acme", "r", EVENTS, 2, NOW, Duration.ofMinutes(10), 5);
    }

    private Importer importer(TieredStore store) {
        return new Importer(store, dir, List.of(), 500, 1 << 20, DeadLetterQueue.open(dir, false), clock);
    }

    private Journal journal() {
        return Journal.open(JournalConfig.builder(dir).clock(clock).build());
    }

    private static AppendSeam seam(Set<Mutation> off, Runnable beforeCommit) {
        return new AppendSeam() {
            @Override
            public void beforeCommit(long segmentSeq) {
                beforeCommit.run();
            }

            @Override
            public Set<Mutation> mutations() {
                return off;
            }
        };
    }
}
