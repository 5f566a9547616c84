package dev.tally.store.journal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.tally.store.RejectReason;
import dev.tally.store.correct.Correction;
import dev.tally.store.correct.CorrectionCodec;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Correction records: written beside events, read back as corrections, kept by recovery, damage detected. */
class JournalCorrectionRecordTest {
    @TempDir
    Path dir;

    private static final Correction RANGE = Correction.voidRange("c-3", "acme", new Correction.Range("key-7",
            "llm.request", Instant.parse("2026-11-19T00:00:00Z"), Instant.parse("2026-11-20T00:00:00Z")), "ops",
            "sent twice").forced();

    /** Events and corrections appended in turn read back in order, each as its kind; a reopen (recovery) cuts nothing. */
    @Test
    void appendCorrection_besideEvents_readsBackInOrderAndSurvivesRecovery() throws Exception {
        Correction amend = Correction.amend("c-2", JournalTestSupport.event("r-1"), "ops", "wrong count");
        try (Journal j = Journal.open(JournalConfig.builder(dir).build())) {
            j.append(JournalTestSupport.batch("r", 0, 2));
            j.appendCorrection(Correction.voidIds("c-1", "acme", List.of("r-0"), "ops", "test key"));
            j.appendCorrection(amend);
            j.append(JournalTestSupport.batch("r", 2, 1));
            j.appendCorrection(RANGE);
        }
        try (Journal j = Journal.open(JournalConfig.builder(dir).build())) {
            assertEquals(0, j.recover().linesCut(), "a correction record at the tail is intact, not torn");
        }
        List<JournalRecord> all = JournalTestSupport.readAll(dir);
        assertEquals(6, all.size());
        assertInstanceOf(JournalRecord.Event.class, all.get(0));
        assertInstanceOf(JournalRecord.Event.class, all.get(1));
        assertEquals(List.of("r-0"), ((JournalRecord.Correction) all.get(2)).correction().ids());
        Correction readAmend = ((JournalRecord.Correction) all.get(3)).correction();
        assertEquals(Correction.Kind.AMEND, readAmend.kind());
        assertEquals(amend.replacement().id(), readAmend.replacement().id());
        assertEquals(amend.replacement().time(), readAmend.replacement().time());
        assertInstanceOf(JournalRecord.Event.class, all.get(4));
        assertEquals(RANGE, ((JournalRecord.Correction) all.get(5)).correction());
    }

    /** A flipped byte in a correction record makes it damaged (never an event), and a correction-marked line that is not a correction is invalid_correction. */
    @Test
    void decode_damagedOrForeignCorrection_isDamaged() {
        byte[] line = RecordFormat.encodeCorrection(RANGE, JournalConfig.DEFAULT_MAX_RECORD_BYTES);
        int len = line.length - 1;
        JournalRecord ok = RecordFormat.decode(line, len, 0, line.length);
        assertEquals(RANGE, ((JournalRecord.Correction) ok).correction());
        line[40] ^= 1;
        JournalRecord.Damaged d = assertInstanceOf(JournalRecord.Damaged.class, RecordFormat.decode(line, len, 0,
                line.length));
        assertEquals(RejectReason.CORRUPT_RECORD, d.reason());

        byte[] json = "{\"correction_id\":\"x\"}".getBytes(StandardCharsets.UTF_8);
        byte[] foreign = (String.format("%08x ", RecordFormat.crc(json, 0, json.length) ^ RecordFormat.CORRECTION_MARK)
                + new String(json, StandardCharsets.UTF_8)).getBytes(StandardCharsets.UTF_8);
        JournalRecord.Damaged f = assertInstanceOf(JournalRecord.Damaged.class, RecordFormat.decode(foreign,
                foreign.length, 0, foreign.length + 1));
        assertEquals(RejectReason.INVALID_CORRECTION, f.reason());
    }

    /** A correction the codec cannot write is refused before anything is written. */
    @Test
    void appendCorrection_unwritable_refusedNothingWritten() throws Exception {
        try (Journal j = Journal.open(JournalConfig.builder(dir).build())) {
            assertThrows(IllegalArgumentException.class, () -> j.appendCorrection(Correction.voidIds(null, "acme",
                    List.of("r-0"), "ops", "no id")));
        }
        Path live = dir.resolve("journal/journal.wal");
        assertEquals(0, Files.exists(live) ? Files.size(live) : 0);
        assertEquals(CorrectionCodec.toJson(RANGE), CorrectionCodec.toJson(CorrectionCodec.parse(CorrectionCodec.toJson(RANGE))));
    }
}
