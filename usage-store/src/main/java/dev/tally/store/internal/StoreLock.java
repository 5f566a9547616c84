package dev.tally.store.internal;

import dev.tally.store.StoreConfig;
import dev.tally.store.StoreException;
import dev.tally.store.io.ProcessLocks;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.StandardOpenOption;

/**
 * The one-writer claim on a data directory: this process's claim ({@link ProcessLocks}) and the
 * OS lock on {@code store.lock}, held from open to close. A report-only store takes neither.
 *
 * <p>Thread-safe: immutable; {@link #release()} may run more than once.
 */
final class StoreLock {
    private static final StoreLock NONE = new StoreLock(null, null, null);

    private final SegmentFiles files;
    private final FileChannel channel;
    private final FileLock lock;

    private StoreLock(SegmentFiles files, FileChannel channel, FileLock lock) {
        this.files = files;
        this.channel = channel;
        this.lock = lock;
    }

    /**
     * Creates the store's directories and takes both locks; a report-only store only needs its
     * directory to exist. On failure nothing stays held.
     */
    static StoreLock acquire(StoreConfig config, SegmentFiles files) throws IOException {
        if (config.readOnly()) {
            if (!Files.isDirectory(config.dataDir())) {
                throw new StoreException("no store at " + config.dataDir() + " to open report-only");
            }
            return NONE;
        }
        Files.createDirectories(files.segmentsDir());
        Files.createDirectories(files.archiveDir());
        Files.createDirectories(files.rollupsDir());
        if (!ProcessLocks.claim(files.lockFile())) {
            throw alreadyOpen(config, files, "another store instance in this process");
        }
        FileChannel channel = null;
        try {
            channel = FileChannel.open(files.lockFile(), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            FileLock lock;
            try {
                lock = channel.tryLock();
            } catch (OverlappingFileLockException e) {
                lock = null;
            }
            if (lock == null) {
                throw alreadyOpen(config, files, "another process");
            }
            return new StoreLock(files, channel, lock);
        } catch (IOException | RuntimeException e) {
            new StoreLock(files, channel, null).release();
            throw e;
        }
    }

    private static StoreException alreadyOpen(StoreConfig config, SegmentFiles files, String byWhom) {
        return new StoreException("the store in " + config.dataDir() + " is already open for writing by " + byWhom
                + " (" + files.lockFile() + " is locked). Stop it first; to read while it runs, use its HTTP API "
                + "or `usage-worker verify`, which read a snapshot");
    }

    /** Lets go of the OS lock and this process's claim. */
    void release() {
        try {
            if (lock != null) {
                lock.release();
            }
            if (channel != null) {
                channel.close();
            }
        } catch (IOException ignored) {
            // the process is letting go of the store; the OS releases the lock with the channel
        }
        if (files != null) {
            ProcessLocks.release(files.lockFile());
        }
    }
}
