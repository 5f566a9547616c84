package dev.tally.store.verify;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tally.store.ImportPosition;
import dev.tally.store.ReadOnlyStoreException;
import dev.tally.store.RejectReason;
import dev.tally.store.RejectionSink;
import dev.tally.store.UsageEvent;
import dev.tally.store.UsageStore;
import dev.tally.store.dlq.DeadLetter;
import dev.tally.store.dlq.DeadLetterQueue;
import dev.tally.store.ingest.Importer;
import dev.tally.store.ingest.SpoolDirectory;
import dev.tally.store.ingest.SpoolScanner;
import dev.tally.store.internal.SegmentFiles;
import dev.tally.store.internal.TieredStore;
import dev.tally.store.journal.Journal;
import dev.tally.store.journal.JournalConfig;
import dev.tally.store.testing.TestEvents;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

/** Report-only means no writes: every public write entry point refuses, and not one byte of the data directory changes. */
class VerifyReadOnlyTest {
    @TempDir
    Path root;

    /** Each write method of a report-only store, queue, scanner, importer and journal throws ReadOnlyStoreException, and every file of the data directory (sealed parts, segment with an unreplayed WAL, manifest, journal, dead letters, quarantine list) is byte-identical afterwards, verify included. */
    @Test
    void writeEntryPoints_reportOnly_refusedAndFilesByteIdentical() throws Exception {
        VerifyFixture fx = new VerifyFixture(root);
        Path spoolFile;
        try (TieredStore store = fx.store(); Journal journal = fx.journal()) {
            journal.append(TestEvents.batch("acme", "a", 200, 3, VerifyFixture.NOW, Duration.ofHours(1), 1));
            journal.rotate();
            journal.append(TestEvents.batch("acme", "b", 100, 3, VerifyFixture.NOW, Duration.ofHours(1), 2));
            spoolFile = fx.appendSpool("s.jsonl", TestEvents.batch("acme", "s", 30, 3, VerifyFixture.NOW,
                    Duration.ofHours(1), 3));
            fx.appendSpool("s.jsonl", "not an event\n");
            fx.importer(store).runOnce();
            store.sealNow();
            journal.append(TestEvents.batch("acme", "c", 50, 3, VerifyFixture.NOW, Duration.ofHours(1), 4));
            fx.importer(store).runOnce();
            // Rewrite the imported spool file: the next pass quarantines it (import/quarantine.json).
            VerifyFixture.overwrite(spoolFile, 20, new byte[] {'X'});
            fx.importer(store).runOnce();
        }
        // Leave the active segment with a write-ahead log that a read-only open must not replay into the file.
        Path active;
        try (Stream<Path> s = Files.list(fx.data.resolve(SegmentFiles.SEGMENTS_DIR))) {
            active = s.filter(p -> p.toString().endsWith(SegmentFiles.SEGMENT_SUFFIX)).sorted()
                    .reduce((a, b) -> b).orElseThrow();
        }
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:" + active); Statement s = c.createStatement()) {
            s.execute("PRAGMA disable_checkpoint_on_shutdown");
            s.execute("INSERT INTO import_positions VALUES ('test:wal', 1, '', '', now()::TIMESTAMP)");
        }
        assertTrue(Files.exists(Path.of(active + ".wal")), "the segment keeps a WAL");
        assertTrue(Files.exists(fx.data.resolve(SpoolScanner.IMPORT_DIR).resolve(SpoolScanner.QUARANTINE_FILE)));
        assertFalse(DeadLetterQueue.open(fx.data, true).list().isEmpty());
        Map<String, String> before = VerifyFixture.hashTree(fx.data);

        List<UsageEvent> one = List.of(TestEvents.event("acme", "new", "key-0", VerifyFixture.NOW, 1));
        ImportPosition pos = new ImportPosition("spool:0/s.jsonl", 1, "", "");
        try (UsageStore ro = UsageStore.builder(fx.data).readOnly(true).clock(fx.clock).build()) {
            TieredStore t = (TieredStore) ro;
            refused(() -> ro.append(one));
            refused(() -> ro.append(one, pos));
            refused(() -> ro.append(one, pos, RejectionSink.NONE));
            refused(ro::sealNow);
            refused(ro::maintain);
            refused(() -> ro.retention(false));
            refused(t::sealPending);
            ro.retention(true); // a dry run only reports
            assertEquals(380, ro.segments().stream().filter(x -> x.state() != dev.tally.store.SegmentInfo.State.SEALED_ROLLUP)
                    .mapToLong(dev.tally.store.SegmentInfo::rows).sum());
            // Even the raw engine cannot write: segments are attached read-only.
            long seq;
            try (dev.tally.store.internal.TierView v = t.acquireView()) {
                seq = v.active().seq();
            }
            assertThrows(SQLException.class, () -> t.engine().execute("INSERT INTO seg_" + seq
                    + ".main.import_positions VALUES ('x', 1, '', '', now()::TIMESTAMP)"));

            DeadLetterQueue q = DeadLetterQueue.open(fx.data, true);
            refused(() -> q.add(List.of(DeadLetter.of("spool:0/x.jsonl", 0, RejectReason.INVALID_JSON, "m",
                    new byte[] {'x'}, 1, VerifyFixture.NOW))));
            refused(() -> q.replay(ro, fx.clock));

            refused(() -> new Importer(ro, fx.data, List.of(fx.spool), 500, 1 << 20, q, fx.clock));

            SpoolScanner scanner = new SpoolScanner(fx.data, SpoolDirectory.indexed(List.of(fx.spool)), 1 << 20, true,
                    fx.clock);
            scanner.scan(ro.importPositions());
            assertEquals(1, scanner.quarantined().size());
            refused(() -> scanner.release("spool:0/s.jsonl"));

            Journal j = Journal.openReadOnly(JournalConfig.builder(fx.data).clock(fx.clock).build());
            assertTrue(j.readOnly());
            refused(() -> j.append(one));
            refused(j::rotate);
            refused(j::rotateIfDue);
            refused(() -> j.reap(p -> true));
            refused(j::recover);
            refused(j::sync);
            j.close();
        }

        VerifyReport r = fx.verify();
        assertEquals(1, r.count(VerifyClass.DEAD_LETTERED), ReportFormat.table(r));

        assertEquals(before, VerifyFixture.hashTree(fx.data), "a report-only path wrote to the data directory");
    }

    private static void refused(Executable write) {
        ReadOnlyStoreException e = assertThrows(ReadOnlyStoreException.class, write);
        assertTrue(e.getMessage().contains("report-only"), e.getMessage());
    }
}
