package dev.tally.store.journal;

/**
 * What {@link Journal#recover()} found at the tail of the live journal.
 *
 * <p>Thread-safe: immutable.
 *
 * @param sizeBefore bytes in {@code journal.wal} before recovery (0 when there was none)
 * @param sizeAfter  bytes kept: the end of the last good record
 * @param linesCut   lines removed (a partial last line counts as one)
 */
public record RecoveryReport(long sizeBefore, long sizeAfter, int linesCut) {
    /** Bytes removed from the tail. */
    public long bytesCut() {
        return sizeBefore - sizeAfter;
    }

    public boolean cutAnything() {
        return sizeAfter < sizeBefore;
    }
}
