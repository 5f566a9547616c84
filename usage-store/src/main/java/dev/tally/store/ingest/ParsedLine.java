package dev.tally.store.ingest;

import dev.tally.store.UsageEvent;
import dev.tally.store.ValidEvent;
import java.util.Objects;

/**
 * A spool line that parsed into a valid event (every rule but the clock's checked in the one parse).
 *
 * <p>Immutable (as long as nobody writes into {@code original}) and so thread-safe.
 *
 * @param offset   the line's byte offset in its file
 * @param length   its content length in bytes
 * @param valid    the event, validated and in stored form
 * @param original the line's content; kept so a refusal by the store can be dead-lettered with
 *                 the producer's exact bytes. The array belongs to the record: do not modify it.
 */
public record ParsedLine(long offset, long length, ValidEvent valid, byte[] original) {
    public ParsedLine {
        Objects.requireNonNull(valid, "valid");
        Objects.requireNonNull(original, "original");
    }

    /** The event. */
    public UsageEvent event() {
        return valid.event();
    }
}
