package dev.tally.store.read;

import dev.tally.store.ImportPosition;
import java.io.IOException;
import java.util.Map;

/**
 * A report-only store over a private, consistent copy of a store's tiers, taken without any of
 * the store's locks and without opening its DuckDB files (their writer may run in another
 * process): what verify compares its sources against. Taken with
 * {@code UsageStore.builder(dataDir)...snapshot(...)}; {@link #close()} closes the copy's store
 * and deletes the copy. Nothing is ever written in the data directory.
 *
 * <p>Not thread-safe: one run's.
 */
public interface Snapshot extends AutoCloseable {
    /** Runs right after the tiers were copied consistently, before the copies are opened. */
    interface Taken {
        void run() throws IOException;
    }

    /** Test seam: runs after a segment's files were copied, before they are checked again. */
    interface CopyHook {
        CopyHook NONE = (seq, attempt) -> { };

        void afterCopy(long seq, int attempt) throws IOException;
    }

    /** The read side of the copy's store (report-only: it refuses every write). */
    StoreReader store();

    /** How the copy was taken, and whether it is complete. */
    SnapshotInfo info();

    /** The import positions of the copy, or null when they are unknown. */
    Map<String, ImportPosition> positions();

    /** Closes the copy's store and deletes the copy. */
    @Override
    void close();
}
