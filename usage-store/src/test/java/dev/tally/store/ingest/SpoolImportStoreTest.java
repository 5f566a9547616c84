package dev.tally.store.ingest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tally.store.EventCodec;
import dev.tally.store.ImportPosition;
import dev.tally.store.RejectReason;
import dev.tally.store.UsageEvent;
import dev.tally.store.dlq.DeadLetter;
import dev.tally.store.dlq.DeadLetterQueue;
import dev.tally.store.internal.TestStores;
import dev.tally.store.internal.TieredStore;
import dev.tally.store.testing.DiskRows;
import dev.tally.store.testing.TestEvents;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Spool import into a real store (DuckDB segments, sealed Parquet parts, import positions in the
 * same transaction as the rows), checked from the files on disk rather than the store's view.
 */
class SpoolImportStoreTest {
    static final Instant NOW = Instant.parse("2026-11-20T12:00:00Z");
    static final Clock CLOCK = Clock.fixed(NOW, ZoneOffset.UTC);
    /** The smallest segments the builder allows, so that imports roll over and seal parts while they run. */
    static final long SEGMENT_BYTES = 1L << 20;

    @TempDir
    Path tmp;

    private TieredStore openStore(Path data) {
        return TestStores.open(data, CLOCK, SEGMENT_BYTES);
    }

    private static Importer importer(TieredStore store, Path data, Path spool) {
        return new Importer(store, data, List.of(spool), 700, LineReader.DEFAULT_MAX_LINE_BYTES,
                DeadLetterQueue.open(data, false), CLOCK);
    }

    private static ImportReport drain(Importer importer) {
        ImportReport total = ImportReport.empty();
        ImportReport p;
        do {
            p = importer.runOnce();
            total = total.plus(p);
        } while (p.didWork());
        return total;
    }

    private static String line(UsageEvent e) {
        return EventCodec.toJson(e) + "\n";
    }

    /** Writes {@code events} as NDJSON with an invalid line after every 500th and a too-old event after every 700th. */
    private static int[] writeSpool(Path file, List<UsageEvent> events) throws IOException {
        StringBuilder sb = new StringBuilder();
        int broken = 0;
        int old = 0;
        for (int i = 0; i < events.size(); i++) {
            sb.append(line(events.get(i)));
            if (i % 500 == 499) {
                sb.append("{\"tenant\":\"acme\",\"id\":\"broken-").append(i).append("\n");
                broken++;
            }
            if (i % 700 == 699) {
                sb.append(line(TestEvents.event("acme", "old-" + file.getFileName() + "-" + i, "key-1",
                        NOW.minus(Duration.ofDays(400)), 5)));
                old++;
            }
        }
        Files.writeString(file, sb.toString(), StandardCharsets.UTF_8);
        return new int[] {broken, old};
    }

    /** Every good line of three spool files is stored exactly once on disk across rollovers and seals, every bad line is dead-lettered once, and each position is the consumed boundary. */
    @Test
    void runOnce_realStoreWithRollovers_everyGoodLineStoredOnceOnDisk() throws Exception {
        Path data = Files.createDirectories(tmp.resolve("data"));
        Path spool = Files.createDirectories(tmp.resolve("spool"));
        List<UsageEvent> all = new ArrayList<>();
        int broken = 0;
        int old = 0;
        for (int f = 0; f < 3; f++) {
            List<UsageEvent> events = TestEvents.batch("acme", "f" + f, 8_000, 25, NOW, Duration.ofDays(3), 11 + f);
            all.addAll(events);
            int[] b = writeSpool(spool.resolve("part-" + f + ".jsonl"), events);
            broken += b[0];
            old += b[1];
        }
        // A producer still writing: the last line of part-2 has no newline yet and must not be consumed.
        UsageEvent pending = TestEvents.event("acme", "pending-1", "key-3", NOW.minusSeconds(60), 42);
        String pendingLine = line(pending);
        Files.writeString(spool.resolve("part-2.jsonl"), pendingLine.substring(0, 40), StandardOpenOption.APPEND);

        Map<String, ImportPosition> positions;
        try (TieredStore store = openStore(data)) {
            ImportReport pass = drain(importer(store, data, spool));
            assertEquals(List.of(), pass.errors());
            assertEquals(all.size(), pass.stored());
            assertEquals(broken + old, pass.deadLettered());
            positions = store.importPositions();
        }
        long boundary = Files.size(spool.resolve("part-2.jsonl")) - 40;
        ImportPosition p2 = positions.values().stream().filter(p -> p.offset() == boundary).findFirst().orElseThrow();
        assertEquals(PrefixFingerprint.hexOfPrefix(spool.resolve("part-2.jsonl"), boundary), p2.fingerprint());

        // The producer finishes the line; the next pass consumes exactly it.
        Files.writeString(spool.resolve("part-2.jsonl"), pendingLine.substring(40), StandardOpenOption.APPEND);
        all.add(pending);
        try (TieredStore store = openStore(data)) {
            ImportReport pass = drain(importer(store, data, spool));
            assertEquals(1, pass.records(), "only the completed line is read again");
            assertEquals(1, pass.stored());
        }

        DiskRows.Scan scan = DiskRows.scan(data);
        assertTrue(scan.files().stream().anyMatch(f -> f.toString().endsWith(".parquet")),
                "the import must have rolled over and sealed parts: " + scan.files());
        assertEquals(List.of(), scan.doubled());
        assertEquals(all.size(), scan.counts().size());
        for (UsageEvent e : all) {
            assertEquals(1, scan.count("acme/" + e.id()), e.id());
        }
        List<DeadLetter> dl = DeadLetterQueue.open(data, true).list();
        assertEquals(broken + old, dl.size());
        assertEquals(broken, dl.stream().filter(d -> d.reason() == RejectReason.INVALID_JSON).count());
        assertEquals(old, dl.stream().filter(d -> d.reason() == RejectReason.TIME_TOO_OLD).count());
    }

    /** A store reopened between passes keeps the committed positions: the second pass reads only the lines appended since. */
    @Test
    void runOnce_reopenedBetweenPasses_readsOnlyNewLines() throws Exception {
        Path data = Files.createDirectories(tmp.resolve("data"));
        Path spool = Files.createDirectories(tmp.resolve("spool"));
        Path file = spool.resolve("a.jsonl");
        List<UsageEvent> first = TestEvents.batch("acme", "a", 3_000, 10, NOW, Duration.ofDays(2), 5);
        List<UsageEvent> second = TestEvents.batch("acme", "b", 2_000, 10, NOW, Duration.ofDays(2), 6);
        StringBuilder sb = new StringBuilder();
        first.forEach(e -> sb.append(line(e)));
        Files.writeString(file, sb);
        try (TieredStore store = openStore(data)) {
            assertEquals(first.size(), drain(importer(store, data, spool)).stored());
        }
        StringBuilder more = new StringBuilder();
        second.forEach(e -> more.append(line(e)));
        Files.writeString(file, more, StandardOpenOption.APPEND);
        try (TieredStore store = openStore(data)) {
            ImportReport pass = drain(importer(store, data, spool));
            assertEquals(second.size(), pass.records(), "nothing before the committed boundary is read again");
            assertEquals(second.size(), pass.stored());
            assertEquals(Files.size(file), store.importPositions().values().iterator().next().offset());
        }
        DiskRows.Scan scan = DiskRows.scan(data);
        assertEquals(List.of(), scan.doubled());
        assertEquals(first.size() + second.size(), scan.counts().size());
    }

    /** A spool file rewritten after its import is quarantined, not imported again, and the rows on disk stay as they were. */
    @Test
    void runOnce_fileRewrittenAfterImport_quarantinedAndRowsUnchanged() throws Exception {
        Path data = Files.createDirectories(tmp.resolve("data"));
        Path spool = Files.createDirectories(tmp.resolve("spool"));
        Path file = spool.resolve("a.jsonl");
        List<UsageEvent> first = TestEvents.batch("acme", "a", 1_000, 10, NOW, Duration.ofDays(2), 8);
        StringBuilder sb = new StringBuilder();
        first.forEach(e -> sb.append(line(e)));
        Files.writeString(file, sb);
        try (TieredStore store = openStore(data)) {
            drain(importer(store, data, spool));
        }
        Map<String, Integer> before = DiskRows.scan(data).counts();

        List<UsageEvent> rewritten = TestEvents.batch("acme", "r", 1_500, 10, NOW, Duration.ofDays(2), 9);
        StringBuilder other = new StringBuilder();
        rewritten.forEach(e -> other.append(line(e)));
        Files.writeString(file, other);
        try (TieredStore store = openStore(data)) {
            Importer importer = importer(store, data, spool);
            ImportReport pass = drain(importer);
            assertEquals(0, pass.stored(), "a changed file is not imported again");
            assertFalse(importer.spoolScanner().quarantined().isEmpty(), "the changed file is quarantined");
        }
        assertEquals(before, DiskRows.scan(data).counts());
    }
}
