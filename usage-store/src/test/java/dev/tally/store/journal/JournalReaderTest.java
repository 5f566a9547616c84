package dev.tally.store.journal;

import static dev.tally.store.journal.JournalTestSupport.batch;
import static dev.tally.store.journal.JournalTestSupport.event;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tally.store.RejectReason;
import dev.tally.store.UsageEvent;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The importer's view: boundaries, partial lines, damaged and oversized lines, source order. */
class JournalReaderTest {
    @TempDir
    Path dir;

    private Path journalDir;
    private JournalReader reader;

    @BeforeEach
    void setUp() throws Exception {
        journalDir = Files.createDirectories(dir.resolve("journal"));
        reader = new JournalReader(dir);
    }

    /** The bytes of one record line for {@code e}, newline included. */
    private static byte[] line(UsageEvent e) throws Exception {
        return RecordFormat.encodeBatch(List.of(e), JournalConfig.DEFAULT_MAX_RECORD_BYTES);
    }

    private static byte[] concat(byte[]... parts) {
        int n = 0;
        for (byte[] p : parts) {
            n += p.length;
        }
        byte[] out = new byte[n];
        int o = 0;
        for (byte[] p : parts) {
            System.arraycopy(p, 0, out, o, p.length);
            o += p.length;
        }
        return out;
    }

    /** A trailing line without its newline is neither returned nor consumed; once completed it reads normally. */
    @Test
    void read_partialTrailingLine_notReturnedUntilCompleted() throws Exception {
        Path live = journalDir.resolve(JournalFiles.LIVE_FILE);
        byte[] first = line(event("p-0"));
        byte[] second = line(event("p-1"));
        int half = second.length / 2;
        Files.write(live, concat(first, Arrays.copyOf(second, half)));

        JournalReadResult r = reader.read(live, 0, 100);
        assertEquals(1, r.records().size());
        assertEquals(first.length, r.nextOffset());
        assertTrue(r.atEnd());

        JournalReadResult again = reader.read(live, r.nextOffset(), 100);
        assertTrue(again.records().isEmpty());
        assertEquals(first.length, again.nextOffset(), "the boundary stays before the partial line");

        Files.write(live, Arrays.copyOfRange(second, half, second.length), StandardOpenOption.APPEND);
        JournalReadResult done = reader.read(live, r.nextOffset(), 100);
        assertEquals(1, done.records().size());
        JournalRecord.Event e = assertInstanceOf(JournalRecord.Event.class, done.records().get(0));
        assertEquals(event("p-1"), e.event());
        assertEquals(first.length, e.startOffset());
        assertEquals(first.length + second.length, done.nextOffset());
    }

    /** A partial last line of an archive is not returned either. */
    @Test
    void read_partialTrailingLineInArchive_notReturned() throws Exception {
        Path archive = journalDir.resolve(JournalFiles.archiveName(5));
        byte[] first = line(event("q-0"));
        Files.write(archive, concat(first, "3f2a".getBytes(StandardCharsets.UTF_8)));
        JournalReadResult r = reader.read(archive, 0, 100);
        assertEquals(1, r.records().size());
        assertEquals(first.length, r.nextOffset());
    }

    /** A line longer than maxLineBytes is reported as LINE_TOO_LONG with a capped raw prefix and the next record still reads. */
    @Test
    void read_lineLongerThanMax_reportedAsLineTooLongAndSkipped() throws Exception {
        Path archive = journalDir.resolve(JournalFiles.archiveName(1));
        byte[] huge = new byte[3 * 1024 * 1024 + 17];
        Arrays.fill(huge, (byte) 'x');
        huge[huge.length - 1] = '\n';
        byte[] before = line(event("l-0"));
        byte[] after = line(event("l-1"));
        Files.write(archive, concat(before, huge, after));

        JournalReadResult r = reader.read(archive, 0, 100, 1024 * 1024);
        assertEquals(3, r.records().size());
        JournalRecord.Damaged d = assertInstanceOf(JournalRecord.Damaged.class, r.records().get(1));
        assertEquals(RejectReason.LINE_TOO_LONG, d.reason());
        assertEquals(before.length, d.startOffset());
        assertEquals(before.length + huge.length, d.endOffset());
        assertEquals(huge.length - 1, d.lineBytes());
        assertEquals(JournalRecord.Damaged.MAX_RAW_BYTES, d.raw().length);
        assertEquals(event("l-1"), ((JournalRecord.Event) r.records().get(2)).event());
    }

    /** Reading in pages of maxRecords returns every record once with contiguous boundaries. */
    @Test
    void read_smallMaxRecords_pagesThroughWithContiguousBoundaries() throws Exception {
        Path live = journalDir.resolve(JournalFiles.LIVE_FILE);
        Files.write(live, RecordFormat.encodeBatch(batch("m", 0, 10), JournalConfig.DEFAULT_MAX_RECORD_BYTES));
        long offset = 0;
        List<String> ids = new ArrayList<>();
        int calls = 0;
        while (true) {
            JournalReadResult r = reader.read(live, offset, 3);
            calls++;
            for (JournalRecord rec : r.records()) {
                assertEquals(offset, rec.startOffset(), "records are contiguous");
                offset = rec.endOffset();
                ids.add(((JournalRecord.Event) rec).event().id());
            }
            assertEquals(offset, r.nextOffset());
            if (r.atEnd()) {
                break;
            }
            assertEquals(3, r.records().size());
        }
        assertEquals(batch("m", 0, 10).stream().map(UsageEvent::id).toList(), ids);
        assertEquals(Files.size(live), offset);
        assertTrue(calls >= 4);
    }

    /** An offset past the end or inside a line is refused, so a replaced file is noticed. */
    @Test
    void read_offsetNotAtBoundary_throwsJournalOffsetException() throws Exception {
        Path live = journalDir.resolve(JournalFiles.LIVE_FILE);
        byte[] first = line(event("o-0"));
        Files.write(live, concat(first, line(event("o-1"))));
        assertThrows(JournalOffsetException.class, () -> reader.read(live, 5, 10));
        assertThrows(JournalOffsetException.class, () -> reader.read(live, Files.size(live) + 1, 10));
        assertEquals(1, reader.read(live, first.length, 10).records().size());
        assertThrows(IllegalArgumentException.class, () -> reader.read(live, -1, 10));
        assertThrows(IllegalArgumentException.class, () -> reader.read(live, 0, 0));
    }

    /** Damaged lines at the end of the live journal are held back until an intact record follows them. */
    @Test
    void read_damagedTailOfLiveJournal_heldBackUntilIntactRecordFollows() throws Exception {
        Path live = journalDir.resolve(JournalFiles.LIVE_FILE);
        byte[] good = line(event("h-0"));
        byte[] junk = "deadbeef {\"no\":1}\nmore junk\n".getBytes(StandardCharsets.UTF_8);
        Files.write(live, concat(good, junk));

        JournalReadResult r = reader.read(live, 0, 100);
        assertEquals(1, r.records().size());
        assertEquals(good.length, r.nextOffset());
        assertTrue(r.atEnd());

        Files.write(live, line(event("h-1")), StandardOpenOption.APPEND);
        JournalReadResult r2 = reader.read(live, r.nextOffset(), 100);
        assertEquals(3, r2.records().size());
        assertEquals(RejectReason.CORRUPT_RECORD, ((JournalRecord.Damaged) r2.records().get(0)).reason());
        assertEquals(good.length, r2.records().get(0).startOffset());
        assertEquals(RejectReason.CORRUPT_RECORD, ((JournalRecord.Damaged) r2.records().get(1)).reason());
        assertEquals(event("h-1"), ((JournalRecord.Event) r2.records().get(2)).event());
    }

    /** Held-back damage released by a following record still respects maxRecords. */
    @Test
    void read_heldBackDamageWithSmallMaxRecords_returnsInOrderAcrossCalls() throws Exception {
        Path live = journalDir.resolve(JournalFiles.LIVE_FILE);
        Files.write(live, concat("junk1\njunk2\n".getBytes(StandardCharsets.UTF_8), line(event("k-0"))));
        JournalReadResult a = reader.read(live, 0, 1);
        assertEquals(1, a.records().size());
        assertFalse(a.atEnd());
        assertEquals(6, a.nextOffset());
        JournalReadResult b = reader.read(live, a.nextOffset(), 1);
        assertInstanceOf(JournalRecord.Damaged.class, b.records().get(0));
        JournalReadResult c = reader.read(live, b.nextOffset(), 1);
        assertEquals(event("k-0"), ((JournalRecord.Event) c.records().get(0)).event());
    }

    /** In an archive, damaged lines at the end are reported at once. */
    @Test
    void read_damagedTailOfArchive_reportedAtOnce() throws Exception {
        Path archive = journalDir.resolve(JournalFiles.archiveName(7));
        byte[] good = line(event("z-0"));
        Files.write(archive, concat(good, "garbage\n".getBytes(StandardCharsets.UTF_8)));
        JournalReadResult r = reader.read(archive, 0, 100);
        assertEquals(2, r.records().size());
        assertEquals(RejectReason.CORRUPT_RECORD, ((JournalRecord.Damaged) r.records().get(1)).reason());
        assertEquals(Files.size(archive), r.nextOffset());
    }

    /** Sources list archives by number, then the live journal, and nothing else. */
    @Test
    void sources_archivesByNumberThenLive() throws Exception {
        Files.write(journalDir.resolve(JournalFiles.LIVE_FILE), new byte[0]);
        Files.write(journalDir.resolve(JournalFiles.LOCK_FILE), new byte[0]);
        Files.write(journalDir.resolve(JournalFiles.archiveName(20)), new byte[0]);
        Files.write(journalDir.resolve(JournalFiles.archiveName(3)), new byte[0]);
        Files.write(journalDir.resolve("journal-100.wal"), new byte[0]);
        Files.write(journalDir.resolve("journal.wal.bak"), new byte[0]);
        Files.write(journalDir.resolve("journal-abc.wal"), new byte[0]);
        List<String> names = reader.sources().stream().map(JournalSource::name).toList();
        assertEquals(List.of(JournalFiles.archiveName(3), JournalFiles.archiveName(20), "journal-100.wal",
                JournalFiles.LIVE_FILE), names);
        assertTrue(reader.sources().get(3).live());
        assertFalse(reader.sources().get(3).identity().isEmpty());
    }

    /** Source names from input resolve only to the live journal or an archive inside the journal directory. */
    @Test
    void resolve_namesOutsideTheJournal_refused() {
        assertEquals(journalDir.resolve(JournalFiles.LIVE_FILE).toAbsolutePath().normalize(),
                reader.resolve(JournalFiles.LIVE_FILE));
        assertEquals(journalDir.resolve("journal-12.wal").toAbsolutePath().normalize(), reader.resolve("journal-12.wal"));
        for (String bad : List.of("../journal.wal", "/etc/passwd", JournalFiles.LOCK_FILE, "journal.wal.bak",
                "journal-abc.wal", "sub/journal-1.wal", "journal-1.wal\u0000")) {
            assertThrows(IllegalArgumentException.class, () -> reader.resolve(bad), bad);
        }
    }
    /**
     * A valid event is journaled as a canonical record (its checksum marked) and read back as
     * validated; an event breaking a rule is journaled unmarked and read back for full validation.
     */
    @Test
    void read_canonicalAndUnmarkedRecords_areToldApartByTheirChecksum() throws Exception {
        UsageEvent good = event("v-1");
        UsageEvent bad = new UsageEvent("bad tenant", "v-2", "t", "k", null, good.time(), "{}");
        Files.write(journalDir.resolve(JournalFiles.LIVE_FILE),
                RecordFormat.encodeBatch(List.of(good, bad), JournalConfig.DEFAULT_MAX_RECORD_BYTES));
        List<JournalRecord> records = reader.read(journalDir.resolve(JournalFiles.LIVE_FILE), 0, 10).records();
        JournalRecord.Event canonical = (JournalRecord.Event) records.get(0);
        JournalRecord.Event unmarked = (JournalRecord.Event) records.get(1);
        assertEquals(dev.tally.store.EventRules.canonical(good), canonical.valid());
        assertEquals(bad, unmarked.event());
        assertEquals(null, unmarked.valid());
    }
}
