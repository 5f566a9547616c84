package dev.tally.store.ingest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tally.store.ImportPosition;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The change-detection rules the spool import, the journal import and verify share. */
class PositionCheckTest {
    private static final String TWO_LINES = "{\"n\":1}\n{\"n\":2}\n";

    @TempDir
    Path tmp;
    Path file;

    @BeforeEach
    void setUp() throws IOException {
        file = tmp.resolve("a.jsonl");
        Files.writeString(file, TWO_LINES);
    }

    /** A spool position taken at the end of the file, as the importer commits it. */
    private ImportPosition spoolPosition() throws IOException {
        long end = Files.size(file);
        return new ImportPosition("spool:in/a.jsonl", end, PrefixFingerprint.hexOfPrefix(file, end),
                PrefixFingerprint.identity(file));
    }

    private PositionCheck.SpoolResult spoolCheck(ImportPosition p) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            return PositionCheck.spool(p, PrefixFingerprint.identity(file), ch);
        }
    }

    private void rewriteFirstByte(char c) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap(new byte[] {(byte) c}), 0);
        }
    }

    /** A line ending at the boundary is consumed, one after it pending within the start size and raced past it. */
    @Test
    void zone_linesAroundBoundaryAndStartSize_consumedPendingRaced() {
        assertEquals(PositionCheck.Zone.CONSUMED, PositionCheck.zone(10, 10, 30));
        assertEquals(PositionCheck.Zone.PENDING, PositionCheck.zone(11, 10, 30));
        assertEquals(PositionCheck.Zone.PENDING, PositionCheck.zone(30, 10, 30));
        assertEquals(PositionCheck.Zone.RACED, PositionCheck.zone(31, 10, 30));
        assertEquals(PositionCheck.Zone.UNKNOWN, PositionCheck.zone(5, -1, 30));
    }

    /** Appending lines (and a partial one) after the boundary is growth, and the prefix's digest is handed on. */
    @Test
    void spool_appendedAfterBoundary_isNoDriftWithPrefixFingerprint() throws IOException {
        ImportPosition p = spoolPosition();
        Files.writeString(file, "{\"n\":3}\n{\"n\":", StandardOpenOption.APPEND);
        PositionCheck.SpoolResult r = spoolCheck(p);
        assertFalse(r.changed());
        assertEquals(p.offset(), r.fingerprint().length());
        assertEquals(p.fingerprint(), r.fingerprint().hex());
    }

    /** A byte rewritten before the boundary, with the length kept, is a prefix change. */
    @Test
    void spool_rewrittenInPlace_isPrefixChanged() throws IOException {
        ImportPosition p = spoolPosition();
        rewriteFirstByte('[');
        PositionCheck.SpoolResult r = spoolCheck(p);
        assertEquals(ChangeReason.PREFIX_CHANGED, r.drift().reason());
        assertEquals("prefix-changed", r.drift().check());
        assertNull(r.fingerprint());
    }

    /** A file cut below the boundary is truncated. */
    @Test
    void spool_shorterThanBoundary_isTruncated() throws IOException {
        ImportPosition p = spoolPosition();
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ch.truncate(3);
        }
        assertEquals(ChangeReason.TRUNCATED, spoolCheck(p).drift().reason());
    }

    /** Another file under the name is an identity change, whatever its bytes. */
    @Test
    void spool_otherFileUnderTheName_isIdentityChanged() throws IOException {
        ImportPosition p = spoolPosition();
        Path other = tmp.resolve("b.jsonl");
        Files.writeString(other, TWO_LINES);
        Files.delete(file);
        Files.move(other, file);
        assertEquals(ChangeReason.IDENTITY_CHANGED, spoolCheck(p).drift().reason());
    }

    /** A consumed prefix with no fingerprint cannot be checked; an empty one needs none. */
    @Test
    void spool_positionWithoutFingerprint_isNoFingerprintUnlessEmpty() throws IOException {
        assertEquals(ChangeReason.NO_FINGERPRINT,
                spoolCheck(new ImportPosition("spool:in/a.jsonl", 4, "", "")).drift().reason());
        assertFalse(spoolCheck(new ImportPosition("spool:in/a.jsonl", 0, "", "")).changed());
    }

    /** The digest verify streams while parsing decides exactly as the importer's positional read does. */
    @Test
    void spoolPrefix_streamedDigest_agreesWithPositionalCheck() throws IOException {
        ImportPosition p = spoolPosition();
        rewriteFirstByte('[');
        byte[] bytes = Files.readAllBytes(file);
        PrefixFingerprint streamed = PrefixFingerprint.empty();
        streamed.update(bytes, 0, (int) p.offset());
        assertNull(PositionCheck.spoolBeforeRead(p, PrefixFingerprint.identity(file), bytes.length));
        assertEquals(spoolCheck(p).drift(), PositionCheck.spoolPrefix(p, streamed));
        assertEquals(ChangeReason.TRUNCATED, PositionCheck.spoolPrefix(p, null).reason());
    }

    /** A journal that only grew continues its position; bytes rewritten before it, or a cut, are drift. */
    @Test
    void journal_grownRewrittenOrCut_onlyGrowthContinues() throws IOException {
        ImportPosition p;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long end = ch.size();
            p = new ImportPosition("journal:x", end, PositionCheck.journalFingerprint(ch, end), "journal.wal");
        }
        Files.writeString(file, "more", StandardOpenOption.APPEND);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            assertNull(PositionCheck.journal(p, ch));
        }
        rewriteFirstByte('[');
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            assertEquals(ChangeReason.PREFIX_CHANGED, PositionCheck.journal(p, ch).reason());
        }
        Files.writeString(file, "{", StandardCharsets.UTF_8);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            assertEquals(ChangeReason.TRUNCATED, PositionCheck.journal(p, ch).reason());
        }
    }

    /** A position taken under another archive name is stale; one taken on the live journal is not. */
    @Test
    void staleArchive_otherArchiveName_isStale() {
        ImportPosition fromArchive = new ImportPosition("journal:x", 10, "", "journal-000005.wal");
        assertTrue(PositionCheck.staleArchive(fromArchive, "journal-000009.wal"));
        assertFalse(PositionCheck.staleArchive(fromArchive, "journal-000005.wal"));
        assertFalse(PositionCheck.staleArchive(new ImportPosition("journal:x", 10, "", "journal.wal"),
                "journal-000009.wal"));
    }
}
