package dev.tally.store.journal;

import dev.tally.store.EventCodec;
import dev.tally.store.EventRejectedException;
import dev.tally.store.EventRules;
import dev.tally.store.RejectReason;
import dev.tally.store.UsageEvent;
import dev.tally.store.ValidEvent;
import dev.tally.store.correct.Correction;
import dev.tally.store.correct.CorrectionCodec;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.zip.CRC32C;

/**
 * The record framing, in one place: one record per line,
 * {@code <8 lower-case hex digits: checksum> <space> <JSON> \n}.
 *
 * <p>The checksum is the CRC32C of the JSON bytes for a record whose event the journal could not
 * validate when writing it (an event the store will refuse, kept so the importer dead-letters it
 * with its reason), and that CRC XOR {@link #CANONICAL_MARK} for a record written from a
 * {@link ValidEvent} in canonical form. The importer trusts a marked record: it reads it without
 * checking the clock-free rules again. A record of either kind that fails its checksum is damaged.
 * Journals written before the mark existed hold only unmarked records, which are read and
 * validated in full as before.
 *
 * <p>The record kind rides on the same checksum: a record whose CRC is XORed with
 * {@link #CORRECTION_MARK} holds a {@link Correction} in {@link CorrectionCodec} form, every other
 * intact record an event. Existing files (events only) so read exactly as before, and a reader
 * older than corrections sees a correction record as damaged (dead-letters it) rather than
 * mistaking it for an event.
 *
 * <p>Thread-safe: stateless.
 */
final class RecordFormat {
    /** Hex digits of the checksum. */
    static final int CRC_DIGITS = 8;
    /** Checksum digits plus the separating space. */
    static final int PREFIX_BYTES = CRC_DIGITS + 1;
    static final byte SEPARATOR = ' ';
    static final byte NEWLINE = '\n';

    /**
     * XORed into the CRC of a canonical record. Any fixed non-zero value works: a damaged record
     * matches either form by chance with the same odds as one plain CRC.
     */
    static final int CANONICAL_MARK = 0x7A11C0DE;

    /** XORed into the CRC of a correction record: the record kind, covered by the checksum itself. */
    static final int CORRECTION_MARK = 0x0C0AAEC7;

    private static final byte[] HEX = "0123456789abcdef".getBytes(StandardCharsets.US_ASCII);

    private RecordFormat() {
    }

    /** CRC32C of {@code len} bytes of {@code b} from {@code off}. */
    static int crc(byte[] b, int off, int len) {
        CRC32C c = new CRC32C();
        c.update(b, off, len);
        return (int) c.getValue();
    }

    /**
     * Encodes a batch of validated events as consecutive canonical (marked) record lines. Nothing
     * is parsed back: a {@link ValidEvent} is canonical by construction.
     *
     * @throws EventRejectedException naming the first event whose record is longer than
     *                                {@code maxRecordBytes}; nothing is encoded
     */
    static byte[] encodeValid(List<ValidEvent> events, int maxRecordBytes) throws EventRejectedException {
        Buffer out = new Buffer(events.size() * 256);
        int i = -1;
        for (ValidEvent v : events) {
            i++;
            if (v == null) {
                throw new IllegalArgumentException("events[" + i + "] is null");
            }
            put(out, EventCodec.toJsonBytes(v), true, maxRecordBytes, i, v.event());
        }
        return Arrays.copyOf(out.bytes, out.size);
    }

    /**
     * Encodes a batch as consecutive record lines. An event that passes {@link EventRules#canonical}
     * is written in canonical form as a marked record; any other is written as given, with
     * {@link EventCodec#toJson}, and parsed back, so anything acknowledged is a record the importer
     * can read (and dead-letter with the store's reason); the batch is refused whole if one event
     * cannot be.
     *
     * @throws EventRejectedException naming the first bad event's index and id; nothing is encoded
     */
    static byte[] encodeBatch(List<UsageEvent> events, int maxRecordBytes) throws EventRejectedException {
        Buffer out = new Buffer(events.size() * 256);
        int i = -1;
        for (UsageEvent e : events) {
            i++;
            if (e == null) {
                throw new IllegalArgumentException("events[" + i + "] is null");
            }
            ValidEvent valid;
            try {
                valid = EventRules.canonical(e);
            } catch (EventRejectedException refused) {
                valid = null;
            }
            if (valid != null) {
                put(out, EventCodec.toJsonBytes(valid), true, maxRecordBytes, i, e);
                continue;
            }
            byte[] json = EventCodec.toJson(e).getBytes(StandardCharsets.UTF_8);
            UsageEvent parsed;
            try {
                parsed = EventCodec.parse(json, 0, json.length);
            } catch (EventRejectedException ex) {
                throw new EventRejectedException(ex.reason(), describe(i, e) + ex.getMessage());
            }
            if (indexOf(json, NEWLINE) >= 0) {
                // Raw data JSON may hold a newline between tokens; its compact form cannot.
                json = EventCodec.toJson(parsed).getBytes(StandardCharsets.UTF_8);
            }
            put(out, json, false, maxRecordBytes, i, e);
        }
        return Arrays.copyOf(out.bytes, out.size);
    }

    /**
     * Encodes one correction as a correction record line. The JSON is parsed back first, so the
     * journal never acknowledges a record its reader cannot read as a correction; the store's own
     * checks (tenant, ids, closed periods) run when it is imported.
     *
     * @throws IllegalArgumentException naming the field that is wrong, or when the record is
     *                                  longer than {@code maxRecordBytes}; nothing is encoded
     */
    static byte[] encodeCorrection(Correction c, int maxRecordBytes) {
        String text = CorrectionCodec.toJson(c);
        CorrectionCodec.parse(text); // throws naming the field
        byte[] json = text.getBytes(StandardCharsets.UTF_8);
        int lineBytes = PREFIX_BYTES + json.length;
        if (lineBytes > maxRecordBytes) {
            throw new IllegalArgumentException("correction '" + c.correctionId() + "': its journal record is "
                    + lineBytes + " bytes, longer than maxRecordBytes = " + maxRecordBytes);
        }
        Buffer out = new Buffer(lineBytes + 1);
        frame(out, json, crc(json, 0, json.length) ^ CORRECTION_MARK);
        return Arrays.copyOf(out.bytes, out.size);
    }

    private static void put(Buffer out, byte[] json, boolean canonical, int maxRecordBytes, int index, UsageEvent e)
            throws EventRejectedException {
        int lineBytes = PREFIX_BYTES + json.length;
        if (lineBytes > maxRecordBytes) {
            throw new EventRejectedException(RejectReason.LINE_TOO_LONG, describe(index, e) + "its journal record is "
                    + lineBytes + " bytes, longer than maxRecordBytes = " + maxRecordBytes);
        }
        int crc = crc(json, 0, json.length);
        frame(out, json, canonical ? crc ^ CANONICAL_MARK : crc);
    }

    /** Appends {@code <checksum> SP json LF} to {@code out}. */
    private static void frame(Buffer out, byte[] json, int checksum) {
        int lineBytes = PREFIX_BYTES + json.length;
        out.ensure(lineBytes + 1);
        writeHex(out.bytes, out.size, checksum);
        out.bytes[out.size + CRC_DIGITS] = SEPARATOR;
        System.arraycopy(json, 0, out.bytes, out.size + PREFIX_BYTES, json.length);
        out.bytes[out.size + lineBytes] = NEWLINE;
        out.size += lineBytes + 1;
    }

    /** Whether a record whose JSON bytes give {@code computed} is intact with checksum {@code stored}. */
    static boolean intact(int stored, int computed) {
        return stored == computed || stored == (computed ^ CANONICAL_MARK) || stored == (computed ^ CORRECTION_MARK);
    }

    /**
     * Decodes one line (without its newline) found at {@code [start, end)} in the file
     * ({@code end} is past the newline).
     */
    static JournalRecord decode(byte[] line, int len, long start, long end) {
        String frameError = frameError(line, len);
        if (frameError != null) {
            return damaged(start, end, RejectReason.CORRUPT_RECORD, frameError, line, len);
        }
        int stored = parseHex(line, 0);
        int computed = crc(line, PREFIX_BYTES, len - PREFIX_BYTES);
        if (stored == (computed ^ CANONICAL_MARK)) {
            try {
                return new JournalRecord.Event(start, end, EventCodec.parseCanonical(line, PREFIX_BYTES,
                        len - PREFIX_BYTES));
            } catch (EventRejectedException e) {
                return damaged(start, end, e.reason(), "canonical record at offset " + start
                        + " has a valid checksum but " + e.getMessage(), line, len);
            }
        }
        if (stored == (computed ^ CORRECTION_MARK)) {
            try {
                return new JournalRecord.Correction(start, end, CorrectionCodec.parse(new String(line, PREFIX_BYTES,
                        len - PREFIX_BYTES, StandardCharsets.UTF_8)));
            } catch (IllegalArgumentException e) {
                return damaged(start, end, RejectReason.INVALID_CORRECTION, "correction record at offset " + start
                        + " has a valid checksum but " + e.getMessage(), line, len);
            }
        }
        if (stored != computed) {
            return damaged(start, end, RejectReason.CORRUPT_RECORD, String.format(
                    "checksum mismatch at offset %d: the record says %08x, its %d JSON bytes give %08x",
                    start, stored, len - PREFIX_BYTES, computed), line, len);
        }
        try {
            return new JournalRecord.Event(start, end, EventCodec.parse(line, PREFIX_BYTES, len - PREFIX_BYTES));
        } catch (EventRejectedException e) {
            return damaged(start, end, e.reason(), "record at offset " + start + " has a valid checksum but "
                    + e.getMessage(), line, len);
        }
    }

    /** Why the first bytes of a line are not {@code <8 hex> <space>}, or null when they are. */
    static String frameError(byte[] line, int len) {
        if (len < PREFIX_BYTES) {
            return "not a journal record: " + len + " bytes, shorter than the " + PREFIX_BYTES
                    + "-byte checksum prefix";
        }
        for (int i = 0; i < CRC_DIGITS; i++) {
            if (hexValue(line[i]) < 0) {
                return "not a journal record: byte " + i + " of the checksum prefix is not a lower-case hex digit";
            }
        }
        if (line[CRC_DIGITS] != SEPARATOR) {
            return "not a journal record: no space after the 8-digit checksum";
        }
        return null;
    }

    static int parseHex(byte[] b, int off) {
        int v = 0;
        for (int i = 0; i < CRC_DIGITS; i++) {
            v = (v << 4) | hexValue(b[off + i]);
        }
        return v;
    }

    static int hexValue(byte c) {
        if (c >= '0' && c <= '9') {
            return c - '0';
        }
        if (c >= 'a' && c <= 'f') {
            return c - 'a' + 10;
        }
        return -1;
    }

    private static void writeHex(byte[] dst, int off, int v) {
        for (int i = CRC_DIGITS - 1; i >= 0; i--) {
            dst[off + i] = HEX[v & 0xf];
            v >>>= 4;
        }
    }

    private static JournalRecord.Damaged damaged(long start, long end, RejectReason reason, String message,
            byte[] line, int len) {
        return new JournalRecord.Damaged(start, end, reason, message,
                Arrays.copyOf(line, Math.min(len, JournalRecord.Damaged.MAX_RAW_BYTES)));
    }

    private static int indexOf(byte[] b, byte v) {
        for (int i = 0; i < b.length; i++) {
            if (b[i] == v) {
                return i;
            }
        }
        return -1;
    }

    private static String describe(int index, UsageEvent e) {
        String id = e.id() == null ? "null" : "'" + (e.id().length() <= 80 ? e.id() : e.id().substring(0, 80) + "…") + "'";
        return "event #" + index + " (id " + id + "): ";
    }

    /** A growable byte array. */
    private static final class Buffer {
        byte[] bytes;
        int size;

        Buffer(int capacity) {
            bytes = new byte[Math.max(64, capacity)];
        }

        void ensure(int more) {
            long need = (long) size + more;
            if (need > bytes.length) {
                if (need > Integer.MAX_VALUE - 16) {
                    throw new IllegalArgumentException("batch too large to encode: " + need + " bytes");
                }
                bytes = Arrays.copyOf(bytes, (int) Math.min(Integer.MAX_VALUE - 16, Math.max(need, 2L * bytes.length)));
            }
        }
    }
}
