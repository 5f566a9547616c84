package dev.tally.store.verify;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tally.store.EventCodec;
import dev.tally.store.UsageEvent;
import dev.tally.store.internal.SegmentFiles;
import dev.tally.store.internal.TieredStore;
import dev.tally.store.journal.Journal;
import dev.tally.store.testing.TestEvents;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Verify against real stores, journals and spool files: every class, and what never masks drift. */
class VerifyTest {
    private static final Instant NOW = VerifyFixture.NOW;

    @TempDir
    Path root;

    private VerifyFixture fx;

    @BeforeEach
    void setUp() throws IOException {
        fx = new VerifyFixture(root);
    }

    private static List<UsageEvent> events(String tenant, String prefix, int n, long seed) {
        return TestEvents.batch(tenant, prefix, n, 3, NOW, Duration.ofHours(1), seed);
    }

    /** Journal archives, the live journal and a spool file, imported (part sealed to Parquet, part active): every line unchanged, totals equal, and not one byte of the data directory changes. */
    @Test
    void run_quietFullyImportedDir_allUnchangedAndWritesNothing() throws Exception {
        try (TieredStore store = fx.store(); Journal journal = fx.journal()) {
            journal.append(events("acme", "a", 300, 1));
            journal.rotate();
            journal.append(events("acme", "b", 200, 2));
            fx.appendSpool("orders.jsonl", events("globex", "c", 150, 3));
            fx.importer(store).runOnce();
            store.sealNow();
            journal.append(events("acme", "d", 50, 4));
            fx.appendSpool("orders.jsonl", events("globex", "e", 20, 5));
            fx.importer(store).runOnce();
        }
        Map<String, String> before = VerifyFixture.hashTree(fx.data);

        VerifyReport r = fx.verify();

        assertEquals(before, VerifyFixture.hashTree(fx.data), "verify wrote to the data directory");
        assertEquals(720, r.count(VerifyClass.UNCHANGED), ReportFormat.table(r));
        for (VerifyClass c : VerifyClass.values()) {
            if (c != VerifyClass.UNCHANGED) {
                assertEquals(0, r.count(c), c + "\n" + ReportFormat.table(r));
            }
        }
        assertFalse(r.drift());
        assertEquals(3, r.files().size());
        r.files().forEach(f -> assertEquals(VerifyClass.UNCHANGED, f.status(), f.toString()));
        r.files().forEach(f -> assertEquals("ok", f.check(), f.toString()));
        assertTrue(r.snapshot().detailParts() > 0, "some events are sealed");
        assertEquals(2, r.totals().size());
        r.totals().forEach(t -> assertTrue(t.matches(), t.toString()));
        TypeTotals acme = r.totals().get(0);
        assertEquals(550, acme.expected().events());
        assertEquals(0, r.storeOnlyEvents());
        assertEquals(0, r.storeDuplicateKeys());
        assertTrue(ReportFormat.json(r).contains("\"drift\" : false"));
    }

    /** Lines written before the check but not imported are pending, lines written after the snapshot are raced, a partial line is ignored, and none of it is changed. */
    @Test
    void run_writerAppendsDuringCheck_racedOrPendingNeverChanged() throws Exception {
        try (TieredStore store = fx.store(); Journal journal = fx.journal()) {
            journal.append(events("acme", "a", 100, 1));
            fx.appendSpool("s.jsonl", events("acme", "s", 50, 2));
            fx.importer(store).runOnce();
            // Written before the check, not imported: pending.
            journal.append(events("acme", "p", 10, 3));
            Path spoolFile = fx.appendSpool("s.jsonl", events("acme", "q", 5, 4));

            VerifyReport r = fx.verify(new Verifier.Hooks() {
                @Override
                public void afterSnapshot() throws IOException {
                    // A writer appends after the snapshot, before anything is read.
                    try {
                        journal.append(events("acme", "r", 5, 5));
                    } catch (dev.tally.store.EventRejectedException e) {
                        throw new IllegalStateException(e);
                    }
                    fx.appendSpool("s.jsonl", events("acme", "t", 3, 6));
                    fx.appendSpool("s.jsonl", "{\"tenant\":\"acme\",\"id\":\"half");
                }

                @Override
                public void beforeRestat(Path file) throws IOException {
                    // And again after the file was read, before it is stat'ed again.
                    if (file.equals(spoolFile)) {
                        fx.appendSpool("s.jsonl", "-line\"}\n");
                    }
                }
            });

            assertEquals(150, r.count(VerifyClass.UNCHANGED), ReportFormat.table(r));
            assertEquals(15, r.count(VerifyClass.PENDING), ReportFormat.table(r));
            assertEquals(8, r.count(VerifyClass.RACED), ReportFormat.table(r));
            assertEquals(0, r.count(VerifyClass.CHANGED));
            assertEquals(0, r.count(VerifyClass.MISSING));
            assertEquals(0, r.count(VerifyClass.INCONCLUSIVE));
            assertFalse(r.drift(), ReportFormat.table(r));
            for (FileReport f : r.files()) {
                assertEquals(VerifyClass.RACED, f.status(), f.toString());
                assertEquals("ok", f.check(), f.toString());
                assertTrue(f.written(), f.toString());
            }
            FileReport s = r.files().stream().filter(f -> f.kind().equals("spool")).findFirst().orElseThrow();
            assertTrue(s.tailBytes() > 0, "the partial line was left out: " + s);
        }
    }

    /** A consumed spool line edited in place (same length, same file) is changed, with the differing value, and the file's prefix check fails. */
    @Test
    void run_inPlaceEditOfImportedSpoolLine_isChanged() throws Exception {
        Path file;
        try (TieredStore store = fx.store()) {
            file = fx.appendSpool("s.jsonl", events("acme", "s", 40, 1));
            fx.importer(store).runOnce();
        }
        long at = VerifyFixture.indexOf(file, "\"input_tokens\":") + "\"input_tokens\":".length();
        byte digit = Files.readAllBytes(file)[(int) at];
        VerifyFixture.overwrite(file, at, new byte[] {(byte) (digit == '9' ? '1' : digit + 1)});

        VerifyReport r = fx.verify();

        assertEquals(1, r.count(VerifyClass.CHANGED), ReportFormat.table(r));
        assertEquals(39, r.count(VerifyClass.UNCHANGED));
        assertTrue(r.drift());
        FileReport f = r.files().get(0);
        assertEquals(VerifyClass.CHANGED, f.status());
        assertEquals("prefix-changed", f.check());
        EventFinding finding = r.findings().get(0);
        assertEquals("s-0", finding.id());
        assertEquals("data", finding.differences().get(0).field());
        assertFalse(r.totals().get(0).matches());
    }

    /** A journal record rewritten with a valid checksum, away from the tail the position fingerprints, is still changed: every consumed event is compared. */
    @Test
    void run_journalRecordRewrittenWithValidChecksum_isChanged() throws Exception {
        try (TieredStore store = fx.store(); Journal journal = fx.journal()) {
            journal.append(events("acme", "a", 60, 1));
            fx.importer(store).runOnce();
        }
        Path live = fx.data.resolve("journal/journal.wal");
        List<String> lines = new ArrayList<>(Files.readAllLines(live, StandardCharsets.UTF_8));
        String json = lines.get(3).substring(9);
        int at = json.indexOf("\"input_tokens\":") + "\"input_tokens\":".length();
        String edited = json.substring(0, at) + (json.charAt(at) == '7' ? '8' : '7') + json.substring(at + 1);
        assertEquals(json.length(), edited.length());
        assertNotEquals(json, edited);
        CRC32C crc = new CRC32C();
        crc.update(edited.getBytes(StandardCharsets.UTF_8));
        lines.set(3, String.format("%08x", crc.getValue()) + " " + edited);
        Files.writeString(live, String.join("\n", lines) + "\n", StandardCharsets.UTF_8);

        VerifyReport r = fx.verify();

        assertEquals(1, r.count(VerifyClass.CHANGED), ReportFormat.table(r));
        assertEquals(59, r.count(VerifyClass.UNCHANGED));
        assertEquals("a-3", r.findings().get(0).id());
        assertEquals(VerifyClass.CHANGED, r.files().get(0).status());
        assertTrue(r.drift());
    }

    /** A journal whose inode carries the position of an earlier, reaped file (none of its records stored) is a new file: its lines are pending, nothing drifts. */
    @Test
    void run_journalInodeReusedByNewFile_isStalePositionNotChanged() throws Exception {
        try (TieredStore store = fx.store(); Journal journal = fx.journal()) {
            journal.append(events("acme", "a", 40, 1));
            fx.importer(store).runOnce();
        }
        // Same inode, entirely new records: what a reaped archive's inode reused by a new journal looks like.
        Path live = fx.data.resolve("journal/journal.wal");
        Files.writeString(live, journalRecords(events("acme", "n", 12, 2)), StandardCharsets.UTF_8);

        VerifyReport r = fx.verify();

        FileReport f = r.files().get(0);
        assertEquals("stale-position", f.check(), ReportFormat.table(r));
        assertEquals(VerifyClass.PENDING, f.status());
        assertEquals(12, r.count(VerifyClass.PENDING));
        assertEquals(40, r.storeOnlyEvents());
        assertFalse(r.drift());
    }

    /** A journal cut below its consumed boundary, whose other records are stored, is changed. */
    @Test
    void run_journalTruncatedBelowBoundary_isChanged() throws Exception {
        try (TieredStore store = fx.store(); Journal journal = fx.journal()) {
            journal.append(events("acme", "a", 20, 1));
            fx.importer(store).runOnce();
        }
        Path live = fx.data.resolve("journal/journal.wal");
        long cut = VerifyFixture.indexOf(live, "\"id\":\"a-19\"");
        byte[] all = Files.readAllBytes(live);
        int lineStart = (int) cut;
        while (all[lineStart - 1] != '\n') {
            lineStart--;
        }
        Files.write(live, java.util.Arrays.copyOf(all, lineStart));

        VerifyReport r = fx.verify();

        FileReport f = r.files().get(0);
        assertEquals("truncated", f.check(), ReportFormat.table(r));
        assertEquals(VerifyClass.CHANGED, f.status());
        assertEquals(19, r.count(VerifyClass.UNCHANGED));
        assertTrue(r.drift());
    }

    /** A row deleted from the active segment file with DuckDB while the store is closed is missing. */
    @Test
    void run_rowDeletedBehindStoresBack_isMissing() throws Exception {
        try (TieredStore store = fx.store(); Journal journal = fx.journal()) {
            journal.append(events("acme", "a", 30, 1));
            fx.importer(store).runOnce();
        }
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:" + activeSegment());
                Statement s = c.createStatement()) {
            assertEquals(1, s.executeUpdate("DELETE FROM usage_events WHERE tenant = 'acme' AND id = 'a-7'"));
            s.execute("CHECKPOINT");
        }

        VerifyReport r = fx.verify();

        assertEquals(1, r.count(VerifyClass.MISSING), ReportFormat.table(r));
        assertEquals(29, r.count(VerifyClass.UNCHANGED));
        EventFinding f = r.findings().get(0);
        assertEquals(VerifyClass.MISSING, f.verdict());
        assertEquals("a-7", f.id());
        assertEquals(VerifyClass.MISSING, r.files().get(0).status());
        assertEquals(29, r.totals().get(0).stored().events());
        assertEquals(30, r.totals().get(0).expected().events());
        assertTrue(r.drift());
    }

    /** A key stored twice behind the store's back is changed and counted as a duplicate key. */
    @Test
    void run_keyStoredTwice_isChanged() throws Exception {
        try (TieredStore store = fx.store(); Journal journal = fx.journal()) {
            journal.append(events("acme", "a", 10, 1));
            fx.importer(store).runOnce();
        }
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:" + activeSegment());
                Statement s = c.createStatement()) {
            s.execute("INSERT INTO usage_events SELECT * FROM usage_events WHERE id = 'a-2'");
            s.execute("CHECKPOINT");
        }

        VerifyReport r = fx.verify();

        assertEquals(1, r.count(VerifyClass.CHANGED), ReportFormat.table(r));
        assertEquals(1, r.storeDuplicateKeys());
        assertTrue(r.findings().get(0).detail().contains("stored 2 times"));
        assertTrue(r.drift());
    }

    /** Damaged and refused lines are dead-lettered, a partial last spool line is never a difference, and nothing drifts. */
    @Test
    void run_deadLetteredAndPartialLines_areNotDrift() throws Exception {
        try (TieredStore store = fx.store(); Journal journal = fx.journal()) {
            List<UsageEvent> batch = new ArrayList<>(events("acme", "a", 20, 1));
            batch.add(TestEvents.event("acme", "old", "key-0", NOW.minus(Duration.ofDays(40)), 1));
            journal.append(batch);
            journal.append(events("acme", "b", 5, 2));
        }
        Path live = fx.data.resolve("journal/journal.wal");
        long mid = VerifyFixture.indexOf(live, "\"id\":\"a-10\"");
        VerifyFixture.overwrite(live, mid + 2, new byte[] {'#'});
        fx.appendSpool("s.jsonl", events("globex", "s", 4, 3));
        fx.appendSpool("s.jsonl", "not json at all\n");
        fx.appendSpool("s.jsonl", "{\"tenant\":\"globex\",\"id\":\"partial");
        try (TieredStore store = fx.store()) {
            fx.importer(store).runOnce();
        }

        VerifyReport r = fx.verify();

        assertEquals(3, r.count(VerifyClass.DEAD_LETTERED), ReportFormat.table(r));
        assertEquals(28, r.count(VerifyClass.UNCHANGED), ReportFormat.table(r));
        assertFalse(r.drift(), ReportFormat.table(r));
        FileReport s = r.files().stream().filter(f -> f.kind().equals("spool")).findFirst().orElseThrow();
        assertEquals(VerifyClass.DEAD_LETTERED, s.status());
        assertEquals("ok", s.check());
        assertEquals("{\"tenant\":\"globex\",\"id\":\"partial".length(), s.tailBytes());
    }

    /** A segment that changes during every copy leaves the snapshot incomplete: its lines are inconclusive and the run fails closed. */
    @Test
    void run_segmentNeverHoldsStill_inconclusiveAndFailsClosed() throws Exception {
        try (TieredStore store = fx.store(); Journal journal = fx.journal()) {
            journal.append(events("acme", "a", 25, 1));
            fx.importer(store).runOnce();
        }
        Path segment = activeSegment();

        VerifyReport r = fx.verify(new Verifier.Hooks() {
            @Override
            public void afterSegmentCopy(long seq, int attempt) throws IOException {
                // A writer touching the file between each copy and its check.
                Files.setLastModifiedTime(segment, FileTime.from(NOW.plusSeconds(attempt)));
            }
        });

        assertFalse(r.snapshot().complete());
        assertFalse(r.snapshot().positionsKnown());
        assertEquals(25, r.count(VerifyClass.INCONCLUSIVE), ReportFormat.table(r));
        assertEquals(0, r.count(VerifyClass.UNCHANGED));
        assertEquals(0, r.count(VerifyClass.PENDING));
        assertEquals(VerifyClass.INCONCLUSIVE, r.files().get(0).status());
        assertTrue(r.drift());
    }

    /** A consumed prefix rewritten while the check runs (with appends after it) is changed, never raced. */
    @Test
    void run_prefixRewrittenDuringCheck_isChangedNotRaced() throws Exception {
        Path file;
        try (TieredStore store = fx.store()) {
            file = fx.appendSpool("s.jsonl", events("acme", "s", 20, 1));
            fx.importer(store).runOnce();
        }
        long at = VerifyFixture.indexOf(file, "\"subject\":\"key-") + "\"subject\":\"key-".length();

        VerifyReport r = fx.verify(new Verifier.Hooks() {
            @Override
            public void afterSnapshot() throws IOException {
                VerifyFixture.overwrite(file, at, new byte[] {'9'});
                fx.appendSpool("s.jsonl", events("acme", "x", 2, 2));
            }
        });

        FileReport f = r.files().get(0);
        assertEquals(VerifyClass.CHANGED, f.status(), ReportFormat.table(r));
        assertEquals("prefix-changed", f.check());
        assertTrue(f.written());
        assertEquals(1, r.count(VerifyClass.CHANGED));
        assertEquals("subject", r.findings().get(0).differences().get(0).field());
        assertEquals(2, r.count(VerifyClass.RACED));
        assertTrue(r.drift());
    }

    /** Events whose sealed detail retention deleted are expired while the rollups still count them, not missing. */
    @Test
    void run_detailRemovedByRetention_isExpiredNotMissing() throws Exception {
        try (TieredStore store = fx.store()) {
            fx.appendSpool("old.jsonl", events("acme", "o", 30, 1));
            fx.importer(store).runOnce();
            store.sealNow();
        }
        fx.clock.advance(Duration.ofDays(40));
        try (TieredStore store = fx.store()) {
            assertFalse(store.retention(false).actions().isEmpty());
        }

        VerifyReport r = fx.verify();

        assertEquals(30, r.count(VerifyClass.EXPIRED), ReportFormat.table(r));
        assertFalse(r.drift());
        assertEquals(0, r.snapshot().detailParts());
        assertTrue(r.snapshot().rollupParts() > 0);
    }

    /** Report and JSON carry every class and the totals with exact decimals. */
    @Test
    void format_exactDecimals_keptInJsonAndTable() throws Exception {
        String data = "{\"cost\":123456789012345678.123456789,\"n\":1}";
        try (TieredStore store = fx.store()) {
            fx.appendSpool("s.jsonl", List.of(
                    new UsageEvent("acme", "x1", "t", "k", null, NOW, data),
                    new UsageEvent("acme", "x2", "t", "k", null, NOW, data)));
            fx.importer(store).runOnce();
        }

        VerifyReport r = fx.verify();

        assertEquals(2, r.count(VerifyClass.UNCHANGED), ReportFormat.table(r));
        Tally expected = r.totals().get(0).expected();
        assertEquals(new java.math.BigDecimal("246913578024691356.246913578"), expected.sums().get("cost"));
        assertTrue(ReportFormat.json(r).contains("\"cost\" : 246913578024691356.246913578"), ReportFormat.json(r));
        assertTrue(ReportFormat.table(r).contains("246913578024691356.246913578"));
        assertTrue(JsonData.equal("{\"a\":1.50,\"b\":[1,{\"c\":2}]}", "{\"b\":[1.0,{\"c\":2}],\"a\":1.5}"));
        assertFalse(JsonData.equal("{\"a\":0.1000000000000000055}", "{\"a\":0.1}"));
        assertEquals("x1", EventCodec.parse(EventCodec.toJson(new UsageEvent("acme", "x1", "t", "k", null, NOW,
                data))).id());
    }

    /** Journal record lines (checksum, space, JSON, newline) for the events. */
    private static String journalRecords(List<UsageEvent> events) {
        StringBuilder sb = new StringBuilder();
        for (UsageEvent e : events) {
            String json = EventCodec.toJson(e);
            CRC32C crc = new CRC32C();
            crc.update(json.getBytes(StandardCharsets.UTF_8));
            sb.append(String.format("%08x", crc.getValue())).append(' ').append(json).append('\n');
        }
        return sb.toString();
    }

    private Path activeSegment() throws IOException {
        try (Stream<Path> s = Files.list(fx.data.resolve(SegmentFiles.SEGMENTS_DIR))) {
            return s.filter(p -> p.getFileName().toString().endsWith(SegmentFiles.SEGMENT_SUFFIX)).sorted()
                    .reduce((a, b) -> b).orElseThrow();
        }
    }
}
