package dev.tally.store.ingest;

/**
 * What a scan found for one spool file, judged against its last committed import position.
 *
 * <p>Immutable and thread-safe.
 */
public enum SpoolStatus {
    /** Never imported (no committed position, or re-imported from the start after a release). */
    NEW,
    /** The committed prefix is unchanged and complete lines follow it. */
    APPENDED,
    /** The committed prefix is unchanged and nothing complete follows it (maybe a partial line). */
    UNCHANGED,
    /**
     * Rewritten or truncated in place, or replaced by another file, after its prefix was
     * imported. Reported and quarantined; the file itself is never moved or modified.
     */
    CHANGED,
    /** In the quarantine list from an earlier scan; not imported until released. */
    QUARANTINED,
    /**
     * The file was replaced or removed while it was being looked at, so no consistent view
     * was had; nothing is decided or recorded, and the next scan looks again.
     */
    RACED,
    /**
     * The file could not be read as a plain file (permissions, an I/O error, a link or special
     * file put in its place); nothing is decided or recorded, and the next scan tries again.
     */
    UNREADABLE;

    /** The lower-case wire name, e.g. {@code appended}. */
    public String code() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }

    /** Whether an import should read this file now. */
    public boolean importable() {
        return this == NEW || this == APPENDED;
    }
}
