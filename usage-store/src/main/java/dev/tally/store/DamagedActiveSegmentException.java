package dev.tally.store;

/**
 * Thrown by every write entry point of a store opened <b>degraded</b>: its active segment or a
 * pending one (the DuckDB file or its write-ahead log) did not open, so nothing can be appended
 * until it is set aside. Reads answer from the sealed parts and say they are partial.
 */
public final class DamagedActiveSegmentException extends StoreException {
    private static final long serialVersionUID = 1L;

    /** The repair that sets the damaged segment aside; named in every message. */
    public static final String REPAIR = "usage-worker repair active --apply";

    private final long seq;

    public DamagedActiveSegmentException(String operation, long seq, String reason) {
        this(operation, seq, reason, false);
    }

    /**
     * @param pending true when the damaged segment was rolled but not sealed (a pending one, which
     *                also holds back the segments above it), false for the active one
     */
    public DamagedActiveSegmentException(String operation, long seq, String reason, boolean pending) {
        super("refused '" + operation + "': the " + (pending ? "pending" : "active") + " segment " + seq
                + " is damaged (" + reason + "); the store "
                + "is open degraded, reads answer from sealed parts only. Stop the worker and run: " + REPAIR
                + " (it moves the damaged segment to quarantine/; the next import rebuilds its events from the journal and "
                + "the spool; see docs/reliability.md)");
        this.seq = seq;
    }

    /** The sequence of the damaged segment. */
    public long seq() {
        return seq;
    }
}
