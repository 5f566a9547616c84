package dev.tally.store.ingest;

import static dev.tally.store.ingest.LineReaderTest.ev;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tally.store.ImportPosition;
import dev.tally.store.RejectReason;
import dev.tally.store.StoreException;
import dev.tally.store.dlq.DeadLetter;
import dev.tally.store.dlq.DeadLetterQueue;
import dev.tally.store.dlq.FakeUsageStore;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SpoolImporterTest {
    static final Clock CLOCK = Clock.fixed(Instant.parse("2026-11-20T10:00:00Z"), ZoneOffset.UTC);

    @TempDir
    Path tmp;
    Path data;
    Path spool;
    FakeUsageStore store;

    @BeforeEach
    void setUp() throws IOException {
        data = Files.createDirectories(tmp.resolve("data"));
        spool = Files.createDirectories(tmp.resolve("spool"));
        store = new FakeUsageStore();
        store.refuse = e -> e.subject().equals("refused") ? RejectReason.TIME_TOO_OLD : null;
    }

    SpoolImporter importer() {
        SpoolScanner scanner = new SpoolScanner(data, List.of(new SpoolDirectory("in", spool)),
                LineReader.DEFAULT_MAX_LINE_BYTES, false, CLOCK);
        return new SpoolImporter(scanner, DeadLetterQueue.open(data, false), store, CLOCK, 2);
    }

    /** Good lines are stored, parser and store refusals are dead-lettered, and the committed position is the consumed boundary. */
    @Test
    void runOnce_mixedFile_storesGoodAndDeadLettersBad() throws IOException {
        String refused = ev("r").replace("key-7", "refused");
        Path a = spool.resolve("a.jsonl");
        Files.writeString(a, ev("1") + "\n{oops\n" + refused + "\n" + ev("2") + "\n" + ev("3").substring(0, 10));

        ImportReport r = importer().runOnce();
        assertEquals(2, r.stored());
        assertEquals(2, r.deadLettered());
        assertEquals(List.of("1", "2"), store.stored.stream().map(e -> e.id()).toList());
        List<DeadLetter> dl = DeadLetterQueue.open(data, true).list();
        assertEquals(List.of(RejectReason.INVALID_JSON, RejectReason.TIME_TOO_OLD),
                dl.stream().map(DeadLetter::reason).toList());
        assertEquals(refused, dl.get(1).text());
        ImportPosition p = store.importPositions().get("spool:in/a.jsonl");
        long boundary = Files.size(a) - 10;
        assertEquals(boundary, p.offset());
        assertEquals(PrefixFingerprint.hexOfPrefix(a, boundary), p.fingerprint());

        ImportReport again = importer().runOnce();
        assertEquals(0, again.records());
    }

    /** A failed batch commit stores no row and moves no position; the retry stores each line once and dead-letters the bad one once. */
    @Test
    void runOnce_failedBatchCommit_retryDoesNotDouble() throws IOException {
        Files.writeString(spool.resolve("a.jsonl"), ev("1") + "\n{bad\n" + ev("2") + "\n");
        store.failNextAppends = 1;
        store.failOnlyPositionCommits = true;
        assertThrows(StoreException.class, () -> importer().runOnce());
        assertTrue(store.stored.isEmpty(), "rows and position commit together or not at all");
        assertEquals(1, DeadLetterQueue.open(data, true).size(), "the bad line was made durable before the commit");
        assertTrue(store.importPositions().isEmpty());

        ImportReport r = importer().runOnce();
        assertEquals(2, r.stored());
        assertEquals(0, r.duplicates());
        assertEquals(List.of("1", "2"), store.stored.stream().map(e -> e.id()).toList());
        assertEquals(1, DeadLetterQueue.open(data, true).size());
        assertEquals(Files.size(spool.resolve("a.jsonl")), store.importPositions().get("spool:in/a.jsonl").offset());
    }

    /** A rewritten file is quarantined while another file in the same run is still imported. */
    @Test
    void runOnce_changedFile_quarantinedAndOthersImported() throws IOException {
        Files.writeString(spool.resolve("a.jsonl"), ev("1") + "\n");
        Files.writeString(spool.resolve("b.jsonl"), ev("2") + "\n");
        importer().runOnce();
        Files.writeString(spool.resolve("a.jsonl"), ev("9") + "\n" + ev("10") + "\n");
        Files.writeString(spool.resolve("b.jsonl"), ev("3") + "\n", java.nio.file.StandardOpenOption.APPEND);

        ImportReport r = importer().runOnce();
        assertEquals(List.of("spool:in/a.jsonl"), r.quarantined().stream().map(SpoolFile::source).toList());
        assertEquals(1, r.stored());
        assertEquals(List.of("1", "2", "3"), store.stored.stream().map(e -> e.id()).toList());
    }

    /** An importer over a read-only scanner or dead-letter queue refuses to run and writes nothing. */
    @Test
    void runOnce_readOnly_refused() throws IOException {
        Files.writeString(spool.resolve("a.jsonl"), ev("1") + "\n");
        SpoolScanner ro = new SpoolScanner(data, List.of(new SpoolDirectory("in", spool)),
                LineReader.DEFAULT_MAX_LINE_BYTES, true, CLOCK);
        SpoolImporter i = new SpoolImporter(ro, DeadLetterQueue.open(data, true), store, CLOCK, 10);
        assertThrows(dev.tally.store.ReadOnlyStoreException.class, i::runOnce);
        assertTrue(store.appendCalls.isEmpty());
        try (var files = Files.list(data)) {
            assertEquals(0, files.count());
        }
    }
}
