package dev.tally.store.journal;

import dev.tally.store.StoreException;

/**
 * A read was asked to start at an offset that is not a record boundary of the file: past its end
 * or not just after a newline. The file was truncated, replaced or rotated since the position was
 * taken, so the caller's position belongs to other bytes.
 *
 * <p>Thread-safe: immutable once thrown.
 */
public final class JournalOffsetException extends StoreException {
    private static final long serialVersionUID = 1L;

    public JournalOffsetException(String message) {
        super(message);
    }
}
