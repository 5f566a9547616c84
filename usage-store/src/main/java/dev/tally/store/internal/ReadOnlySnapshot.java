package dev.tally.store.internal;

import dev.tally.store.StoreConfig;
import dev.tally.store.StoreException;
import dev.tally.store.read.Snapshot;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A report-only store over a private, consistent copy of a store whose writer is running in
 * another process (DuckDB refuses a second process attaching its segment files, even read-only).
 * The copy is taken the way {@code verify} takes it ({@link StoreSnapshot}): segments copied and
 * checked unchanged, sealed parts hard-linked, the manifest read before and after. It is a
 * snapshot: events appended after it are not seen. Closing the store deletes the copy.
 * Stateless and thread-safe.
 */
public final class ReadOnlySnapshot {
    private static final Logger log = LoggerFactory.getLogger(ReadOnlySnapshot.class);
    private static final int ATTEMPTS = 5;

    private ReadOnlySnapshot() {
    }

    /**
     * Opens a snapshot of {@code config.dataDir()} in the system temp folder.
     *
     * @throws StoreException when no consistent, complete copy could be taken (never a partial view)
     */
    public static TieredStore open(StoreConfig config) {
        Path tempParent = Path.of(System.getProperty("java.io.tmpdir"));
        StoreSnapshot snap = StoreSnapshot.take(config.dataDir().toAbsolutePath().normalize(), tempParent,
                config.detailRetention(), config.rollupRetention(), config.clock(), ATTEMPTS, Snapshot.CopyHook.NONE,
                () -> { });
        if (!snap.info().complete() || !snap.info().positionsKnown()) {
            snap.close();
            throw new StoreException("the store in " + config.dataDir() + " is open for writing by another process "
                    + "and no consistent copy of it could be taken to read (" + String.join("; ",
                            snap.info().problems()) + "); retry, or read it through the worker's HTTP API");
        }
        TieredStore store = snap.store();
        store.runOnClose(snap::close);
        log.info("opened a read-only snapshot of {} (its writer runs in another process): {} segment(s), {} detail "
                + "part(s)", config.dataDir(), snap.info().segments().size(), snap.info().detailParts());
        return store;
    }
}
