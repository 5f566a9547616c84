package dev.tally.store.verify;

import java.util.Locale;

/**
 * What verify concluded about one source line (and, as the most severe of its lines and of its
 * own checks, about one file). See {@code docs/verify.md} for an example of each.
 *
 * <p>Immutable and thread-safe.
 */
public enum VerifyClass {
    /** Stored, and the stored event equals the source event in every field. */
    UNCHANGED(0),
    /**
     * Stored, but the stored event differs from the source (or the source line was rewritten after
     * it was imported, or the key is stored more than once). Drift.
     */
    CHANGED(7),
    /** Consumed by the import, yet neither stored nor dead-lettered. Drift. */
    MISSING(6),
    /** Refused on import and kept in the dead-letter queue (or its dead file). */
    DEAD_LETTERED(2),
    /** A complete line that existed when the check started, beyond the consumed boundary: not imported yet. */
    PENDING(3),
    /** Written after the snapshot the check started from: nothing can be concluded yet. */
    RACED(4),
    /**
     * Not in the stored detail because it is older than the detail retention; the hourly rollups
     * still count at least as many events for its tenant, type, subject and hour (or are expired
     * too).
     */
    EXPIRED(1),
    /** The evidence needed to decide was not available (e.g. a segment could not be snapshotted). Drift. */
    INCONCLUSIVE(5);

    private final int severity;

    VerifyClass(int severity) {
        this.severity = severity;
    }

    /** The lower-case wire name, e.g. {@code dead-lettered}. */
    public String code() {
        return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    /**
     * Whether this class is drift, which {@code --fail-on-change} fails on: changed, missing and
     * inconclusive (which fails closed). Raced, pending, dead-lettered and expired are not.
     */
    public boolean drift() {
        return this == CHANGED || this == MISSING || this == INCONCLUSIVE;
    }

    /** The more severe of two classes (for a file's overall status). */
    static VerifyClass worse(VerifyClass a, VerifyClass b) {
        if (a == null) {
            return b;
        }
        if (b == null) {
            return a;
        }
        return a.severity >= b.severity ? a : b;
    }
}
