package dev.tally.store.journal;

import static dev.tally.store.journal.JournalTestSupport.assertExactlyOnce;
import static dev.tally.store.journal.JournalTestSupport.batch;
import static dev.tally.store.journal.JournalTestSupport.event;
import static dev.tally.store.journal.JournalTestSupport.intactEvents;
import static dev.tally.store.journal.JournalTestSupport.readAll;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tally.store.EventCodec;
import dev.tally.store.RejectReason;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Torn tails are cut on open and before writes; damage before the tail is reported, never cut. */
class JournalRecoveryTest {
    @TempDir
    Path dir;

    private Path live() {
        return dir.resolve("journal").resolve("journal.wal");
    }

    /** Writes {@code n} records through a journal and returns the live file's bytes. */
    private byte[] writeRecords(int n) throws Exception {
        try (Journal j = Journal.open(JournalConfig.builder(dir).build())) {
            for (int i = 0; i < n; i++) {
                j.append(List.of(event("r-" + i)));
            }
        }
        return Files.readAllBytes(live());
    }

    private static List<String> ids(int n) {
        return IntStream.range(0, n).mapToObj(i -> "r-" + i).toList();
    }

    /** Start offset of the last line of a file that ends in a newline. */
    private static int lastLineStart(byte[] b) {
        int i = b.length - 2;
        while (i >= 0 && b[i] != '\n') {
            i--;
        }
        return i + 1;
    }

    /** Cutting the file at every byte inside its last record opens, keeps all earlier records and cuts the tail. */
    @Test
    void open_tornTailAtEveryByteOfLastRecord_keepsEarlierRecordsAndCutsTail() throws Exception {
        byte[] full = writeRecords(5);
        int start = lastLineStart(full);
        for (int cut = start + 1; cut < full.length; cut++) {
            Files.write(live(), Arrays.copyOf(full, cut));
            try (Journal j = Journal.open(JournalConfig.builder(dir).build())) {
                assertEquals(start, Files.size(live()), "size after recovery, cut at " + cut);
                assertEquals(1, j.stats().tailRepairs(), "tail repairs, cut at " + cut);
                j.append(List.of(event("r-4")));
            }
            assertExactlyOnce(intactEvents(readAll(dir)), ids(5));
        }
        // Cut exactly at the boundary: nothing to repair.
        Files.write(live(), Arrays.copyOf(full, start));
        try (Journal j = Journal.open(JournalConfig.builder(dir).build())) {
            assertEquals(0, j.stats().tailRepairs());
        }
        assertExactlyOnce(intactEvents(readAll(dir)), ids(4));
    }

    /** A last record with a flipped byte fails its checksum and is cut; the others stay. */
    @Test
    void open_lastRecordWithFlippedByte_cutsThatRecordOnly() throws Exception {
        byte[] full = writeRecords(5);
        int start = lastLineStart(full);
        byte[] damaged = full.clone();
        damaged[start + 30] ^= 0x01;
        Files.write(live(), damaged);
        try (Journal j = Journal.open(JournalConfig.builder(dir).build())) {
            assertEquals(1, j.stats().tailRepairs());
            assertEquals(start, Files.size(live()));
        }
        assertExactlyOnce(intactEvents(readAll(dir)), ids(4));
    }

    /** Random garbage (newlines included) appended after intact records is cut on open. */
    @Test
    void open_randomGarbageAppended_cutsGarbageKeepsRecords() throws Exception {
        byte[] full = writeRecords(6);
        Random rnd = new Random(42);
        for (int round = 0; round < 20; round++) {
            byte[] garbage = new byte[1 + rnd.nextInt(3000)];
            rnd.nextBytes(garbage);
            Files.write(live(), full);
            Files.write(live(), garbage, StandardOpenOption.APPEND);
            try (Journal j = Journal.open(JournalConfig.builder(dir).build())) {
                assertEquals(1, j.stats().tailRepairs(), "round " + round);
                assertEquals(full.length, Files.size(live()), "round " + round);
            }
            assertExactlyOnce(intactEvents(readAll(dir)), ids(6));
        }
    }

    /** Zero bytes appended (a crash that extended the file without its data) are cut on open. */
    @Test
    void open_zerosAppended_cutsZerosKeepsRecords() throws Exception {
        byte[] full = writeRecords(3);
        for (int zeros : new int[] {1, 4096, 100_000}) {
            Files.write(live(), full);
            Files.write(live(), new byte[zeros], StandardOpenOption.APPEND);
            try (Journal j = Journal.open(JournalConfig.builder(dir).build())) {
                RecoveryReport again = j.recover();
                assertFalse(again.cutAnything(), "a second recovery finds nothing");
                assertEquals(full.length, again.sizeAfter());
            }
            assertEquals(full.length, Files.size(live()));
            assertExactlyOnce(intactEvents(readAll(dir)), ids(3));
        }
    }

    /** The report says how much recovery cut. */
    @Test
    void recover_tornTail_reportsBytesAndLinesCut() throws Exception {
        byte[] full = writeRecords(2);
        Files.write(live(), "garbage line\nmore".getBytes(StandardCharsets.UTF_8), StandardOpenOption.APPEND);
        try (Journal j = Journal.open(JournalConfig.builder(dir).build())) {
            // open already cut it; make it torn again and recover explicitly
            Files.write(live(), "half a rec".getBytes(StandardCharsets.UTF_8), StandardOpenOption.APPEND);
            RecoveryReport r = j.recover();
            assertEquals(full.length + 10, r.sizeBefore());
            assertEquals(full.length, r.sizeAfter());
            assertEquals(10, r.bytesCut());
            assertEquals(1, r.linesCut());
        }
    }

    /** A flipped byte mid-file is reported as a damaged record at its offset; later records still read; nothing is cut. */
    @Test
    void open_flippedByteMidFile_reportsDamagedRecordAndCutsNothing() throws Exception {
        byte[] full = writeRecords(10);
        List<Integer> starts = new ArrayList<>();
        starts.add(0);
        for (int i = 0; i < full.length - 1; i++) {
            if (full[i] == '\n') {
                starts.add(i + 1);
            }
        }
        int victim = starts.get(4);
        byte[] damaged = full.clone();
        damaged[victim + 40] ^= 0x04;
        Files.write(live(), damaged);
        try (Journal j = Journal.open(JournalConfig.builder(dir).build())) {
            assertEquals(0, j.stats().tailRepairs());
        }
        assertArrayEquals(damaged, Files.readAllBytes(live()), "nothing cut");

        List<JournalRecord> records = readAll(dir);
        assertEquals(10, records.size());
        JournalRecord.Damaged d = assertInstanceOf(JournalRecord.Damaged.class, records.get(4));
        assertEquals(RejectReason.CORRUPT_RECORD, d.reason());
        assertEquals(victim, d.startOffset());
        assertEquals((long) starts.get(5), d.endOffset());
        assertTrue(d.message().contains("checksum"), d.message());
        assertArrayEquals(Arrays.copyOfRange(damaged, victim, starts.get(5) - 1), d.raw());
        for (int i = 0; i < 10; i++) {
            if (i != 4) {
                JournalRecord.Event e = assertInstanceOf(JournalRecord.Event.class, records.get(i));
                assertEquals(event("r-" + i), e.event());
            }
        }
    }

    /** Flipping any single byte of a mid-file record never changes an event silently: it is reported and later records still read. */
    @Test
    void read_flipAnyByteOfMidFileRecord_detectedNeverSilentlyChanged() throws Exception {
        byte[] full = writeRecords(4);
        List<Integer> starts = new ArrayList<>();
        starts.add(0);
        for (int i = 0; i < full.length - 1; i++) {
            if (full[i] == '\n') {
                starts.add(i + 1);
            }
        }
        JournalReader reader = new JournalReader(dir);
        for (int pos = starts.get(1); pos < starts.get(2); pos++) {
            for (int bit : new int[] {0x01, 0x20, 0x80}) {
                byte[] damaged = full.clone();
                damaged[pos] ^= (byte) bit;
                Files.write(live(), damaged);
                List<JournalRecord> records = JournalTestSupport.readFile(reader, live());
                String where = "byte " + pos + " ^ " + bit;
                assertInstanceOf(JournalRecord.Damaged.class, records.get(1), where);
                assertEquals(event("r-0"), ((JournalRecord.Event) records.get(0)).event(), where);
                assertEquals(event("r-3"), ((JournalRecord.Event) records.get(records.size() - 1)).event(), where);
                for (JournalRecord r : records) {
                    if (r instanceof JournalRecord.Event e) {
                        assertTrue(List.of(event("r-0"), event("r-2"), event("r-3")).contains(e.event()), where);
                    }
                }
                assertEquals(Files.size(live()), records.get(records.size() - 1).endOffset(), where);
            }
        }
    }

    /** A flipped byte in the checksum prefix of a mid-file record is reported too. */
    @Test
    void read_flippedChecksumDigitMidFile_reportedAsCorruptRecord() throws Exception {
        byte[] full = writeRecords(3);
        byte[] damaged = full.clone();
        damaged[2] = (byte) (damaged[2] == '0' ? '1' : '0');
        Files.write(live(), damaged);
        List<JournalRecord> records = readAll(dir);
        assertEquals(RejectReason.CORRUPT_RECORD, ((JournalRecord.Damaged) records.get(0)).reason());
        assertEquals(0, records.get(0).startOffset());
        assertInstanceOf(JournalRecord.Event.class, records.get(1));
        assertInstanceOf(JournalRecord.Event.class, records.get(2));
    }

    /** A complete last line with a valid checksum but invalid JSON is not a torn write: it is kept and reported. */
    @Test
    void open_validChecksumInvalidJsonAtTail_keptForTheReader() throws Exception {
        byte[] full = writeRecords(2);
        byte[] json = "{\"tenant\":\"acme\",".getBytes(StandardCharsets.UTF_8);
        String line = String.format("%08x ", RecordFormat.crc(json, 0, json.length))
                + new String(json, StandardCharsets.UTF_8) + "\n";
        Files.write(live(), line.getBytes(StandardCharsets.UTF_8), StandardOpenOption.APPEND);
        try (Journal j = Journal.open(JournalConfig.builder(dir).build())) {
            j.append(List.of(event("r-2")));
        }
        List<JournalRecord> records = readAll(dir);
        assertEquals(4, records.size());
        JournalRecord.Damaged d = assertInstanceOf(JournalRecord.Damaged.class, records.get(2));
        assertEquals(RejectReason.INVALID_JSON, d.reason());
        assertEquals(full.length, d.startOffset());
    }

    /** A partial line left by a writer that died while this journal was open is cut before the next write. */
    @Test
    void append_afterCrashedWriterLeftPartialLine_cutsItAndWritesCleanRecord() throws Exception {
        try (Journal j = Journal.open(JournalConfig.builder(dir).build())) {
            j.append(batch("a", 0, 3));
            String other = EventCodec.toJson(event("lost"));
            Files.write(live(), ("0badc0de " + other.substring(0, 25)).getBytes(StandardCharsets.UTF_8),
                    StandardOpenOption.APPEND);
            j.append(batch("a", 3, 2));
            assertEquals(1, j.stats().tailRepairs());
        }
        assertExactlyOnce(intactEvents(readAll(dir)), List.of("a-0", "a-1", "a-2", "a-3", "a-4"));
    }

    /** Whole garbage lines left by another writer are cut before the next write, so they never sit mid-file. */
    @Test
    void append_afterForeignGarbageLines_cutsThemBeforeWriting() throws Exception {
        try (Journal j = Journal.open(JournalConfig.builder(dir).build())) {
            j.append(batch("b", 0, 2));
            Files.write(live(), "junk\n\u0000\u0000\nnot a record either\n".getBytes(StandardCharsets.UTF_8),
                    StandardOpenOption.APPEND);
            j.append(batch("b", 2, 2));
        }
        assertExactlyOnce(intactEvents(readAll(dir)), List.of("b-0", "b-1", "b-2", "b-3"));
    }
}
