package dev.tally.store.journal;

import dev.tally.store.RejectReason;
import dev.tally.store.UsageEvent;
import dev.tally.store.ValidEvent;
import java.util.Arrays;
import java.util.Objects;

/**
 * One line read from a journal file: an intact {@link Event}, an intact {@link Correction}, or a
 * {@link Damaged} line.
 * {@code startOffset} is the byte offset of the line's first byte; {@code endOffset} is the offset
 * just past its newline, i.e. the consumed boundary once this record is handled.
 *
 * <p>Thread-safe: immutable.
 */
public sealed interface JournalRecord permits JournalRecord.Event, JournalRecord.Correction, JournalRecord.Damaged {

    long startOffset();

    long endOffset();

    /**
     * An intact record: checksum verified and JSON parsed by {@link dev.tally.store.EventCodec}.
     *
     * @param valid the event as validated when it was journaled, for a canonical record (its
     *              checksum carries the mark); null for a record the journal wrote unvalidated,
     *              whose {@code event} the importer must check with every rule
     */
    record Event(long startOffset, long endOffset, UsageEvent event, ValidEvent valid) implements JournalRecord {
        public Event {
            Objects.requireNonNull(event, "event");
        }

        /** An unvalidated record. */
        public Event(long startOffset, long endOffset, UsageEvent event) {
            this(startOffset, endOffset, event, null);
        }

        /** A canonical record. */
        public Event(long startOffset, long endOffset, ValidEvent valid) {
            this(startOffset, endOffset, valid.event(), valid);
        }

        /** The bytes of the record's JSON in the file: the line without checksum prefix and newline. */
        public long jsonOffset() {
            return startOffset + RecordFormat.PREFIX_BYTES;
        }

        /** Length of the record's JSON in bytes. */
        public int jsonBytes() {
            return (int) (endOffset - startOffset - 1 - RecordFormat.PREFIX_BYTES);
        }
    }

    /**
     * An intact correction record (checksum verified with the correction mark, JSON parsed by
     * {@link dev.tally.store.correct.CorrectionCodec}). The importer applies it in journal order,
     * after the events before it.
     */
    record Correction(long startOffset, long endOffset, dev.tally.store.correct.Correction correction)
            implements JournalRecord {
        public Correction {
            Objects.requireNonNull(correction, "correction");
        }

        /** The offset of the record's JSON in the file. */
        public long jsonOffset() {
            return startOffset + RecordFormat.PREFIX_BYTES;
        }

        /** Length of the record's JSON in bytes. */
        public int jsonBytes() {
            return (int) (endOffset - startOffset - 1 - RecordFormat.PREFIX_BYTES);
        }
    }

    /**
     * A line that is not an intact record; the importer dead-letters it with its offset and reason.
     *
     * @param reason  {@link RejectReason#CORRUPT_RECORD} (bad framing or checksum),
     *                {@link RejectReason#LINE_TOO_LONG}, or the codec's reason when the checksum is
     *                valid but the JSON is not (e.g. {@link RejectReason#INVALID_JSON},
     *                {@link RejectReason#INVALID_CORRECTION} for a correction record)
     * @param message human-readable detail, naming the offset
     * @param raw     the line's first bytes, at most {@value #MAX_RAW_BYTES}
     */
    record Damaged(long startOffset, long endOffset, RejectReason reason, String message, byte[] raw)
            implements JournalRecord {
        /** Most bytes of a damaged line kept in {@link #raw()}. */
        public static final int MAX_RAW_BYTES = 4096;

        public Damaged {
            Objects.requireNonNull(reason, "reason");
            Objects.requireNonNull(message, "message");
            raw = raw == null ? new byte[0] : Arrays.copyOf(raw, Math.min(raw.length, MAX_RAW_BYTES));
        }

        /** A copy of the kept bytes. */
        @Override
        public byte[] raw() {
            return raw.clone();
        }

        /** The length of the damaged line in bytes, newline excluded. */
        public long lineBytes() {
            return endOffset - startOffset - 1;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Damaged d && d.startOffset == startOffset && d.endOffset == endOffset
                    && d.reason == reason && d.message.equals(message) && Arrays.equals(d.raw, raw);
        }

        @Override
        public int hashCode() {
            return Objects.hash(startOffset, endOffset, reason, message, Arrays.hashCode(raw));
        }

        @Override
        public String toString() {
            return "Damaged[" + startOffset + ".." + endOffset + " " + reason.code() + ": " + message + "]";
        }
    }
}
