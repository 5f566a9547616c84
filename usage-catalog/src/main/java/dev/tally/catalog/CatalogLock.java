package dev.tally.catalog;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The writers' turn on one SQLite catalog file: an exclusive lock on a file beside it
 * ({@code catalog.db} -> {@code catalog.lock}), held around every write of a sync (open, both
 * tables' commits, snapshot expiry), so processes and threads that share the file write one at a
 * time instead of meeting in SQLite's own locks.
 *
 * <p>Why a file lock and not only SQLite's busy timeout: a writer whose transaction began as a
 * read gets {@code SQLITE_BUSY} at once when another connection wrote in between (SQLite does not
 * wait there, since waiting could deadlock), so concurrent Iceberg commits on one SQLite file fail
 * however long the timeout. The operating system releases the lock when its process dies
 * ({@code kill -9} included), so a crashed worker never leaves it held.
 *
 * <p>{@link FileChannel#lock} is per process: a second channel of the same process would get
 * {@link java.nio.channels.OverlappingFileLockException}. So each lock file also has one
 * in-process {@link ReentrantLock}, taken first; a lock is not reentrant across the file lock
 * (the holder must not take it twice).
 *
 * <p>Thread-safe: the registry of in-process locks is a concurrent map; a {@link Held} belongs to
 * the thread that acquired it.
 */
final class CatalogLock {
    private static final Logger log = LoggerFactory.getLogger(CatalogLock.class);
    private static final ConcurrentHashMap<Path, ReentrantLock> IN_PROCESS = new ConcurrentHashMap<>();
    /** How often a waiter tries the file lock again while another process holds it. */
    private static final long POLL_MILLIS = 10;

    private final Path file;
    private final Duration timeout;

    private CatalogLock(Path file, Duration timeout) {
        this.file = file;
        this.timeout = timeout;
    }

    /** The lock beside SQLite database {@code db}: same folder, {@code .lock} instead of the extension. */
    static CatalogLock beside(Path db, Duration timeout) {
        Path abs = db.toAbsolutePath().normalize();
        String name = abs.getFileName().toString();
        int dot = name.lastIndexOf('.');
        String base = dot > 0 ? name.substring(0, dot) : name;
        return new CatalogLock(abs.resolveSibling(base + ".lock"), timeout);
    }

    Path file() {
        return file;
    }

    /** A lock held by this thread until {@link #close()}. */
    interface Held extends AutoCloseable {
        @Override
        void close();
    }

    /**
     * Waits up to the timeout for this process's turn and then for the other processes'.
     *
     * @throws IOException when the lock file cannot be opened or the turn does not come in time
     */
    Held acquire() throws IOException {
        ReentrantLock local = IN_PROCESS.computeIfAbsent(file, f -> new ReentrantLock());
        long deadline = System.nanoTime() + timeout.toNanos();
        try {
            if (!local.tryLock(timeout.toNanos(), TimeUnit.NANOSECONDS)) {
                throw new IOException("catalog lock " + file + ": another sync of this process held it for more than "
                        + timeout);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted waiting for the catalog lock " + file, e);
        }
        FileChannel channel = null;
        try {
            channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            long waitStart = System.nanoTime();
            FileLock held;
            while ((held = channel.tryLock()) == null) {
                if (System.nanoTime() - deadline > 0) {
                    throw new IOException("catalog lock " + file + ": another process held it for more than " + timeout);
                }
                Thread.sleep(POLL_MILLIS);
            }
            long waitedMs = (System.nanoTime() - waitStart) / 1_000_000;
            if (waitedMs >= 1_000) {
                log.info("catalog: waited {} ms for another process's commit (lock {})", waitedMs, file);
            }
            FileChannel open = channel;
            FileLock fileLock = held;
            return () -> {
                try {
                    fileLock.release();
                    open.close();
                } catch (IOException e) {
                    // Closing the channel releases the lock in any case.
                    log.warn("catalog: releasing {} failed: {}", file, e.toString());
                } finally {
                    local.unlock();
                }
            };
        } catch (IOException | RuntimeException e) {
            closeQuietly(channel);
            local.unlock();
            throw e;
        } catch (InterruptedException e) {
            closeQuietly(channel);
            local.unlock();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted waiting for the catalog lock " + file, e);
        }
    }

    private static void closeQuietly(FileChannel c) {
        if (c != null) {
            try {
                c.close();
            } catch (IOException ignored) {
                // nothing held yet
            }
        }
    }
}
