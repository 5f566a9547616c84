package dev.tally.store.ingest;

import dev.tally.store.UsageEvent;
import java.util.Objects;

/**
 * A spool line that parsed into an event.
 *
 * <p>Immutable (as long as nobody writes into {@code original}) and so thread-safe.
 *
 * @param offset   the line's byte offset in its file
 * @param length   its content length in bytes
 * @param event    the event
 * @param original the line's content; kept so a refusal by the store can be dead-lettered with
 *                 the producer's exact bytes. The array belongs to the record: do not modify it.
 */
public record ParsedLine(long offset, long length, UsageEvent event, byte[] original) {
    public ParsedLine {
        Objects.requireNonNull(event, "event");
        Objects.requireNonNull(original, "original");
    }
}
