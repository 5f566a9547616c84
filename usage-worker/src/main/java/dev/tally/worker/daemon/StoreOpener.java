package dev.tally.worker.daemon;

import dev.tally.store.StoreException;
import dev.tally.store.UsageStore;
import dev.tally.worker.config.WorkerConfig;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;

/**
 * Opens the store for writing and turns "locked by another process" into a message that says what
 * to do: a second worker on one data directory must fail fast and clearly.
 *
 * <p>Thread-safe: stateless.
 */
public final class StoreOpener {
    /** The store's single-writer lock file, relative to the data directory. */
    public static final String LOCK_FILE = "store.lock";

    private StoreOpener() {
    }

    /**
     * Opens the store in the configured data directory for writing.
     *
     * @param command the command that needs it, for the message
     * @throws StoreException when it cannot be opened; when another process holds it the message
     *                        says so and names the read-only commands that still work
     */
    public static UsageStore openWritable(WorkerConfig config, Clock clock, String command) {
        try {
            return config.storeBuilder(clock).build();
        } catch (StoreException e) {
            if (isLocked(config.dataDir())) {
                throw new StoreException("another usage-worker is already using the data directory " + config.dataDir()
                        + " (" + config.dataDir().resolve(LOCK_FILE) + " is locked), so '" + command + "' cannot "
                        + "open it for writing. Stop that worker first (SIGTERM, or systemctl stop usage-worker), "
                        + "or use a read-only command next to it: segments, query, sql, dlq list",
                        e);
            }
            throw e;
        }
    }

    /**
     * Whether a store holds the store lock right now. Meant for processes that do not hold it
     * themselves: closing the probe's channel releases every lock this process holds on the file
     * (POSIX lock semantics), so never call it where a store of this JVM may be open on the directory.
     */
    public static boolean isLocked(Path dataDir) {
        Path lock = dataDir.resolve(LOCK_FILE);
        if (!Files.exists(lock)) {
            return false;
        }
        try (FileChannel ch = FileChannel.open(lock, StandardOpenOption.WRITE)) {
            FileLock l = ch.tryLock();
            if (l == null) {
                return true;
            }
            l.release();
            return false;
        } catch (OverlappingFileLockException e) {
            return true; // this JVM holds it (another store instance)
        } catch (IOException e) {
            return false;
        }
    }
}
