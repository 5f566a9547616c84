package dev.tally.store.ingest;

import dev.tally.store.StoreException;

/**
 * Thrown when a spool file that a scan found importable no longer matches its committed
 * position when it is opened for import (rewritten, truncated or replaced in between), or was
 * replaced while it was being opened. The file has been quarantined unless the scanner is
 * read-only or the status is {@link SpoolStatus#RACED} or {@link SpoolStatus#UNREADABLE}.
 *
 * <p>Immutable and thread-safe.
 */
public final class SpoolFileChangedException extends StoreException {
    private static final long serialVersionUID = 1L;
    private final transient SpoolFile file;

    public SpoolFileChangedException(SpoolFile file) {
        super("spool file " + file);
        this.file = file;
    }

    /** The decision made when the file was opened. */
    public SpoolFile file() {
        return file;
    }
}
