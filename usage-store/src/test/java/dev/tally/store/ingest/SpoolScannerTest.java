package dev.tally.store.ingest;

import static dev.tally.store.ingest.LineReaderTest.ev;
import static dev.tally.store.ingest.LineReaderTest.utf8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tally.store.ImportPosition;
import dev.tally.store.ReadOnlyStoreException;
import dev.tally.store.RejectReason;
import dev.tally.store.StoreException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SpoolScannerTest {
    static final Clock CLOCK = Clock.fixed(Instant.parse("2026-11-20T10:00:00Z"), ZoneOffset.UTC);

    @TempDir
    Path tmp;
    Path data;
    Path spool;
    SpoolDirectory dir;
    /** Committed positions, as a store would hold them. */
    final Map<String, ImportPosition> committed = new HashMap<>();

    @BeforeEach
    void setUp() throws IOException {
        data = Files.createDirectories(tmp.resolve("data"));
        spool = Files.createDirectories(tmp.resolve("spool"));
        dir = new SpoolDirectory("in", spool);
    }

    SpoolScanner scanner(boolean readOnly) {
        return new SpoolScanner(data, List.of(dir), LineReader.DEFAULT_MAX_LINE_BYTES, readOnly, CLOCK);
    }

    Map<String, SpoolFile> byName(List<SpoolFile> files) {
        return files.stream().collect(Collectors.toMap(SpoolFile::relativeName, f -> f));
    }

    /** Reads every batch of an importable file and commits each position, as an importer would. */
    int importAll(SpoolScanner s, SpoolFile f) throws IOException {
        int lines = 0;
        try (ImportCursor c = s.open(f, committed.get(f.source()))) {
            while (true) {
                ImportBatch b = c.next(2);
                lines += b.parsed().size() + b.rejected().size();
                committed.put(b.position().source(), b.position());
                if (b.exhausted()) {
                    return lines;
                }
            }
        }
    }

    void write(String name, String text) throws IOException {
        Path p = spool.resolve(name);
        Files.createDirectories(p.getParent());
        Files.writeString(p, text, StandardCharsets.UTF_8);
    }

    void append(String name, String text) throws IOException {
        Files.writeString(spool.resolve(name), text, StandardCharsets.UTF_8, StandardOpenOption.APPEND);
    }

    /** A new file is NEW, is imported to its end, and is then UNCHANGED with a position whose fingerprint covers exactly the consumed prefix. */
    @Test
    void scan_newFileImported_thenUnchanged() throws IOException {
        write("a.jsonl", ev("1") + "\n" + ev("2") + "\n" + ev("3") + "\n");
        SpoolScanner s = scanner(false);
        SpoolFile f = s.scan(committed).get(0);
        assertEquals(SpoolStatus.NEW, f.status());
        assertEquals("spool:in/a.jsonl", f.source());
        assertTrue(f.hasCompleteLines());

        assertEquals(3, importAll(s, f));
        ImportPosition p = committed.get(f.source());
        assertEquals(Files.size(spool.resolve("a.jsonl")), p.offset());
        assertEquals(PrefixFingerprint.hexOfPrefix(spool.resolve("a.jsonl"), p.offset()), p.fingerprint());
        assertEquals(PrefixFingerprint.identity(spool.resolve("a.jsonl")), p.identity());

        assertEquals(SpoolStatus.UNCHANGED, s.scan(committed).get(0).status());
    }

    /** Appending complete lines makes a file APPENDED and only the new lines are read; a partial appended line alone leaves it UNCHANGED and unconsumed. */
    @Test
    void scan_appendedLines_areAppendedAndPartialLineIsNotConsumed() throws IOException {
        write("a.jsonl", ev("1") + "\n");
        SpoolScanner s = scanner(false);
        importAll(s, s.scan(committed).get(0));
        long before = committed.get("spool:in/a.jsonl").offset();

        append("a.jsonl", ev("2").substring(0, 20));
        SpoolFile partial = s.scan(committed).get(0);
        assertEquals(SpoolStatus.UNCHANGED, partial.status());
        assertEquals(0, importAll(s, partial));
        assertEquals(before, committed.get("spool:in/a.jsonl").offset());

        append("a.jsonl", ev("2").substring(20) + "\n" + ev("3") + "\n");
        SpoolFile appended = s.scan(committed).get(0);
        assertEquals(SpoolStatus.APPENDED, appended.status());
        try (ImportCursor c = s.open(appended, committed.get(appended.source()))) {
            ImportBatch b = c.next(100);
            assertEquals(List.of("2", "3"), b.events().stream().map(e -> e.id()).toList());
            assertEquals(before, b.parsed().get(0).offset());
            assertTrue(b.exhausted());
            assertEquals(Files.size(spool.resolve("a.jsonl")), b.position().offset());
        }
    }

    /** Rewriting one already-imported byte in place (same length) makes the file CHANGED and quarantined, the file is left untouched, and another file is still imported. */
    @Test
    void scan_inPlaceRewriteOfConsumedLine_isChangedAndQuarantined() throws IOException {
        write("a.jsonl", ev("1") + "\n" + ev("2") + "\n");
        write("b.jsonl", ev("x") + "\n");
        SpoolScanner s = scanner(false);
        for (SpoolFile f : s.scan(committed)) {
            importAll(s, f);
        }
        Path a = spool.resolve("a.jsonl");
        byte[] bytes = Files.readAllBytes(a);
        int i = new String(bytes, StandardCharsets.UTF_8).indexOf("812");
        bytes[i] = '9'; // 812 -> 912, same length
        try (var ch = java.nio.channels.FileChannel.open(a, StandardOpenOption.WRITE)) {
            ch.write(java.nio.ByteBuffer.wrap(bytes), 0); // in place: same inode
        }
        append("b.jsonl", ev("y") + "\n");

        Map<String, SpoolFile> scan = byName(s.scan(committed));
        SpoolFile changed = scan.get("a.jsonl");
        assertEquals(SpoolStatus.CHANGED, changed.status());
        assertEquals(ChangeReason.PREFIX_CHANGED, changed.changeReason());
        assertEquals(SpoolStatus.APPENDED, scan.get("b.jsonl").status());
        assertEquals(1, importAll(s, scan.get("b.jsonl")));

        assertArrayEquals(bytes, Files.readAllBytes(a), "the user's file is never modified");
        Path list = data.resolve(SpoolScanner.IMPORT_DIR).resolve(SpoolScanner.QUARANTINE_FILE);
        assertTrue(Files.readString(list).contains("spool:in/a.jsonl"));
        assertEquals(List.of("spool:in/a.jsonl"), s.quarantined().stream().map(QuarantineEntry::source).toList());

        // Still quarantined by a fresh scanner (the list is durable), and opening it is refused.
        SpoolScanner again = scanner(false);
        SpoolFile q = byName(again.scan(committed)).get("a.jsonl");
        assertEquals(SpoolStatus.QUARANTINED, q.status());
        assertThrows(SpoolFileChangedException.class, () -> again.open(q, committed.get(q.source())));
    }

    /** Truncating a file below its consumed boundary makes it CHANGED (truncated). */
    @Test
    void scan_truncatedFile_isChanged() throws IOException {
        write("a.jsonl", ev("1") + "\n" + ev("2") + "\n");
        SpoolScanner s = scanner(false);
        importAll(s, s.scan(committed).get(0));
        try (var ch = java.nio.channels.FileChannel.open(spool.resolve("a.jsonl"), StandardOpenOption.WRITE)) {
            ch.truncate(ev("1").length() + 1);
        }
        SpoolFile f = s.scan(committed).get(0);
        assertEquals(SpoolStatus.CHANGED, f.status());
        assertEquals(ChangeReason.TRUNCATED, f.changeReason());
    }

    /** A file replaced under the same name by a longer one with the same prefix is CHANGED by identity, not taken for an append. */
    @Test
    void scan_fileReplacedUnderSameName_isChangedByIdentity() throws IOException {
        write("a.jsonl", ev("1") + "\n");
        SpoolScanner s = scanner(false);
        importAll(s, s.scan(committed).get(0));
        Path next = spool.resolve(".a.jsonl.new");
        Files.writeString(next, ev("1") + "\n" + ev("2") + "\n");
        Files.move(next, spool.resolve("a.jsonl"), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);

        SpoolFile f = s.scan(committed).get(0);
        assertEquals(SpoolStatus.CHANGED, f.status());
        assertEquals(ChangeReason.IDENTITY_CHANGED, f.changeReason());
    }

    /** Opening a file that was rewritten after the scan re-verifies the prefix, refuses it and quarantines it. */
    @Test
    void open_rewrittenAfterScan_refusedAndQuarantined() throws IOException {
        write("a.jsonl", ev("1") + "\n");
        SpoolScanner s = scanner(false);
        importAll(s, s.scan(committed).get(0));
        append("a.jsonl", ev("2") + "\n");
        SpoolFile f = s.scan(committed).get(0);
        assertEquals(SpoolStatus.APPENDED, f.status());
        write("a.jsonl", ev("7") + "\n" + ev("2") + "\n"); // rewritten in place before the import opens it

        SpoolFileChangedException e = assertThrows(SpoolFileChangedException.class,
                () -> s.open(f, committed.get(f.source())));
        assertEquals(SpoolStatus.CHANGED, e.file().status());
        assertEquals(1, s.quarantined().size());
    }

    /** A released file is imported again from the start, and the release is dropped once a new position is committed. */
    @Test
    void release_quarantinedFile_importedAgainFromStart() throws IOException {
        write("a.jsonl", ev("1") + "\n");
        SpoolScanner s = scanner(false);
        importAll(s, s.scan(committed).get(0));
        write("a.jsonl", ev("9") + "\n" + ev("10") + "\n");
        assertEquals(SpoolStatus.CHANGED, s.scan(committed).get(0).status());

        assertTrue(s.release("spool:in/a.jsonl"));
        assertFalse(s.release("spool:in/a.jsonl"));
        SpoolFile f = scanner(false).scan(committed).get(0);
        assertEquals(SpoolStatus.NEW, f.status());
        assertEquals(2, importAll(s, f));
        assertEquals(SpoolStatus.UNCHANGED, s.scan(committed).get(0).status());
        assertFalse(Files.readString(data.resolve("import/quarantine.json")).contains("superseded"));
    }

    /** A read-only scanner reports a CHANGED file but writes no quarantine list, and refuses release. */
    @Test
    void scan_readOnly_reportsChangedButWritesNothing() throws IOException {
        write("a.jsonl", ev("1") + "\n");
        SpoolScanner w = scanner(false);
        importAll(w, w.scan(committed).get(0));
        write("a.jsonl", ev("2") + "\n");

        SpoolScanner ro = scanner(true);
        assertEquals(SpoolStatus.CHANGED, ro.scan(committed).get(0).status());
        assertEquals(SpoolStatus.CHANGED, ro.scan(committed).get(0).status());
        assertFalse(Files.exists(data.resolve(SpoolScanner.IMPORT_DIR)));
        assertThrows(ReadOnlyStoreException.class, () -> ro.release("spool:in/a.jsonl"));
    }

    /** Symbolic links (to files inside or outside), hidden names, names with control characters and other suffixes are ignored; nested files are found with their relative name. */
    @Test
    void scan_hostileDirectory_onlyPlainSpoolFilesFound() throws IOException {
        Path outside = Files.createDirectories(tmp.resolve("outside"));
        Files.writeString(outside.resolve("secret.jsonl"), ev("s") + "\n");
        write("ok.jsonl", ev("1") + "\n");
        write("sub/deeper.jsonl", ev("2") + "\n");
        write(".hidden.jsonl", ev("3") + "\n");
        write("notes.txt", "x\n");
        write("bad\u0001name.jsonl", ev("4") + "\n");
        Files.createSymbolicLink(spool.resolve("link-out.jsonl"), outside.resolve("secret.jsonl"));
        Files.createSymbolicLink(spool.resolve("link-in.jsonl"), spool.resolve("ok.jsonl"));
        Files.createSymbolicLink(spool.resolve("dirlink"), outside);

        List<SpoolFile> files = scanner(false).scan(committed);
        assertEquals(List.of("spool:in/ok.jsonl", "spool:in/sub/deeper.jsonl"),
                files.stream().map(SpoolFile::source).toList());
    }

    /** A damaged quarantine list stops the scanner from starting rather than importing files it may name. */
    @Test
    void create_damagedQuarantineList_refused() throws IOException {
        Files.createDirectories(data.resolve("import"));
        Files.writeString(data.resolve("import/quarantine.json"), "{\"version\":1,\"quarantined\":[{\"sou");
        assertThrows(StoreException.class, () -> scanner(false));
    }

    /** A batch reports each refused line with its offset, reason, message and original bytes, and its position covers them. */
    @Test
    void nextBatch_rejectedLines_carryOffsetReasonAndText() throws IOException {
        String bad = "{\"tenant\":\"acme\",";
        write("a.jsonl", ev("1") + "\n" + bad + "\n" + ev("2") + "\n");
        SpoolScanner s = scanner(false);
        SpoolFile f = s.scan(committed).get(0);
        ImportBatch b = s.nextBatch(f, null, 10);
        assertEquals(2, b.parsed().size());
        assertEquals(1, b.rejected().size());
        RejectedLine r = b.rejected().get(0);
        assertEquals(ev("1").length() + 1, r.offset());
        assertEquals(RejectReason.INVALID_JSON, r.reason());
        assertFalse(r.message().isEmpty());
        assertArrayEquals(utf8(bad), r.original());
        assertEquals(Files.size(spool.resolve("a.jsonl")), b.position().offset());
    }

    /** The fingerprint extended while reading equals the one computed from scratch, and differs after a one-byte change. */
    @Test
    void prefixFingerprint_incrementalEqualsFromScratch() throws IOException {
        Path f = spool.resolve("fp.jsonl");
        Files.writeString(f, ev("1") + "\n" + ev("2") + "\n");
        assertEquals(PrefixFingerprint.EMPTY_HEX, PrefixFingerprint.empty().hex());
        PrefixFingerprint inc = PrefixFingerprint.empty();
        try (var ch = java.nio.channels.FileChannel.open(f)) {
            inc.extend(ch, 10);
            String at10 = inc.hex();
            inc.extend(ch, Files.size(f));
            assertEquals(PrefixFingerprint.hexOfPrefix(f, 10), at10);
            assertEquals(PrefixFingerprint.hexOfPrefix(f, Files.size(f)), inc.hex());
            assertThrows(java.io.EOFException.class, () -> PrefixFingerprint.ofPrefix(ch, Files.size(f) + 1));
        }
        String before = PrefixFingerprint.hexOfPrefix(f, 10);
        Files.writeString(f, "X" + Files.readString(f).substring(1));
        assertNotEquals(before, PrefixFingerprint.hexOfPrefix(f, 10));
        assertTrue(PrefixFingerprint.identity(f).startsWith(PrefixFingerprint.IDENTITY_UNIX));
    }
}
