package dev.tally.store.ingest;

import dev.tally.store.RejectReason;
import dev.tally.store.dlq.DeadLetter;
import java.time.Instant;
import java.util.Objects;

/**
 * A spool line that was refused, by the parser or by the store's validation.
 *
 * <p>Immutable (as long as nobody writes into {@code original}) and so thread-safe.
 *
 * @param offset   the line's byte offset in its file
 * @param length   its full content length in bytes
 * @param reason   why it was refused
 * @param message  the refusal's human-readable detail
 * @param original the line's content, or only its beginning for a line too long to hold
 *                 ({@code original.length < length}). The array belongs to the record.
 */
public record RejectedLine(long offset, long length, RejectReason reason, String message, byte[] original) {
    public RejectedLine {
        Objects.requireNonNull(reason, "reason");
        Objects.requireNonNull(message, "message");
        Objects.requireNonNull(original, "original");
    }

    /** The dead-letter entry for this line, first seen {@code now}. */
    public DeadLetter toDeadLetter(String source, Instant now) {
        return DeadLetter.of(source, offset, reason, message, original, Math.max(length, original.length), now);
    }
}
