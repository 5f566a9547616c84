package dev.tally.catalog;

/**
 * What one sync of one table changed.
 *
 * <p>Thread-safe: immutable.
 *
 * @param table      the table
 * @param added      data files registered
 * @param removed    data files taken out (retired, compacted or quarantined parts)
 * @param snapshotId the snapshot the sync committed, or -1 when nothing changed
 */
public record SyncReport(TallyTable table, int added, int removed, long snapshotId) {
    /** Whether the sync committed a snapshot. */
    public boolean changed() {
        return added + removed > 0;
    }
}
