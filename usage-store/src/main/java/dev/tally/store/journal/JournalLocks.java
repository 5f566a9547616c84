package dev.tally.store.journal;

import dev.tally.store.io.FileSync;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The per-JVM registry of journal lock files. Every {@link Journal} of this JVM that uses the same
 * {@code journal.lock} shares one {@link Handle}: one {@link ReentrantLock} and one open channel.
 * Sharing the channel matters because the JDK tracks file locks per JVM (two channels asking for
 * the same file lock fail with {@link java.nio.channels.OverlappingFileLockException}) and
 * because, on POSIX, closing any channel of a file drops every lock this JVM holds on it.
 *
 * <p>Thread-safe. The registry map and reference counts are guarded by the {@code JournalLocks}
 * class monitor, which is never held while taking a handle's locks, and which no code takes while
 * holding them. A handle's channel and the lock file's content are guarded by the handle's
 * {@link Handle#jvmLock()} while the handle is in use, and by the class monitor once its last
 * reference is released; the lock order is {@code jvmLock} then the {@link FileLock} (see the
 * package documentation).
 */
final class JournalLocks {
    private static final Logger LOG = LoggerFactory.getLogger(JournalLocks.class);
    private static final Map<Path, Handle> HANDLES = new HashMap<>();
    /** Promises switched off in this JVM by a mutation test; none in production. */
    static volatile java.util.Set<dev.tally.store.mutation.Mutation> mutations = java.util.Set.of();

    private JournalLocks() {
    }

    /**
     * Creates the lock file if missing and returns this JVM's shared handle for it. The lock file is
     * never opened anywhere else in this JVM: closing any other descriptor of it would drop the
     * lock. Creating it under the class monitor keeps that true while another thread acquires.
     */
    static Handle acquire(Path lockFile) throws IOException {
        synchronized (JournalLocks.class) {
            if (!Files.exists(lockFile, LinkOption.NOFOLLOW_LINKS)) {
                try {
                    Files.createFile(lockFile);
                    FileSync.fsyncDirectory(lockFile.getParent());
                } catch (FileAlreadyExistsException raced) {
                    // Another process created it first: fine.
                }
            }
            Path key = lockFile.toRealPath();
            Handle h = HANDLES.get(key);
            if (h == null) {
                h = new Handle(key);
                HANDLES.put(key, h);
            }
            h.refs++;
            return h;
        }
    }

    /** One lock file's locks in this JVM. */
    static final class Handle {
        private static final int HIGH_WATER_BYTES = JournalFiles.ARCHIVE_NUMBER_DIGITS + 1;

        private final Path lockFile;
        private static final long FOLLOWER_WAIT_MILLIS = 5;

        private final ReentrantLock jvmLock = new ReentrantLock();
        /** Followers wait here for a leader to finish; never held while taking another lock. */
        private final Object groupMonitor = new Object();
        /** Guarded by {@link #jvmLock} (by the class monitor after the last release); reopened if an interrupt closed it. */
        private FileChannel channel;
        /** Identity of the file {@link #channel} has open; guarded like {@link #channel}. */
        private Object channelKey;
        /** Guarded by the {@code JournalLocks} class monitor. */
        private int refs;

        private Handle(Path lockFile) {
            this.lockFile = lockFile;
        }

        /**
         * Wakes followers waiting in {@link #awaitGroupDone}. Called after {@link #jvmLock} is
         * released; never called while holding it.
         */
        void signalGroupDone() {
            synchronized (groupMonitor) {
                groupMonitor.notifyAll();
            }
        }

        /**
         * Waits, without holding any lock, until {@code done} is true or {@link #jvmLock} is free.
         * The wait is timed, so a release that was not signalled costs at most a few milliseconds.
         *
         * @return whether the thread was interrupted meanwhile (the caller restores the flag; an
         *         append cannot be abandoned once queued)
         */
        boolean awaitGroupDone(BooleanSupplier done) {
            boolean interrupted = false;
            synchronized (groupMonitor) {
                while (!done.getAsBoolean() && jvmLock.isLocked()) {
                    try {
                        groupMonitor.wait(FOLLOWER_WAIT_MILLIS);
                    } catch (InterruptedException e) {
                        interrupted = true;
                    }
                }
            }
            return interrupted;
        }

        /** The in-JVM lock; take it before {@link #lockFile()}. */
        ReentrantLock jvmLock() {
            return jvmLock;
        }

        /**
         * Takes the exclusive file lock, blocking until other processes release it (null only when a
         * mutation test switched it off). Caller holds
         * {@link #jvmLock}. If the lock file was deleted or replaced meanwhile (it must never be,
         * but then processes would lock different files), it is opened again by path and locked
         * again, so every writer always locks the file that the path names.
         */
        FileLock lockFile() throws IOException {
            checkHeld();
            if (mutations.contains(dev.tally.store.mutation.Mutation.NO_JOURNAL_FILE_LOCK)) {
                return null;
            }
            for (int attempt = 1; ; attempt++) {
                FileChannel ch = channel();
                FileLock lock = ch.lock();
                Object now = keyOf(lockFile);
                if (now != null && now.equals(channelKey)) {
                    return lock;
                }
                LOG.warn("journal lock file {} was deleted or replaced while in use; opening it again", lockFile);
                ch.close(); // releases the lock on the old file only
                channel = null;
                if (attempt >= 5) {
                    throw new IOException("journal lock file " + lockFile + " keeps being deleted or replaced");
                }
            }
        }

        /**
         * The number of the last archive created, kept in the lock file so archive names never
         * repeat even after every archive is reaped; 0 when none was recorded. Caller holds both locks.
         */
        long readHighWater() throws IOException {
            checkHeld();
            ByteBuffer b = ByteBuffer.allocate(HIGH_WATER_BYTES + 8);
            long pos = 0;
            while (b.hasRemaining()) {
                int n = channel().read(b, pos);
                if (n <= 0) {
                    break;
                }
                pos += n;
            }
            String text = new String(b.array(), 0, b.position(), StandardCharsets.US_ASCII).trim();
            if (text.isEmpty()) {
                return 0;
            }
            try {
                return Long.parseLong(text);
            } catch (NumberFormatException e) {
                return 0; // the archive names on disk still bound the next number
            }
        }

        /** Records {@code number} as the last archive created. Caller holds both locks. */
        void writeHighWater(long number) throws IOException {
            checkHeld();
            byte[] text = (String.format("%0" + JournalFiles.ARCHIVE_NUMBER_DIGITS + "d", number) + "\n")
                    .getBytes(StandardCharsets.US_ASCII);
            ByteBuffer b = ByteBuffer.wrap(text);
            FileChannel ch = channel();
            long pos = 0;
            while (b.hasRemaining()) {
                pos += ch.write(b, pos);
            }
            ch.truncate(text.length);
            ch.force(true);
        }

        /**
         * Drops one reference; the last one closes the channel. The close happens under the class
         * monitor so that a new handle for the same file cannot be created (and locked) while the
         * old channel is being closed, which on POSIX would silently drop the new handle's lock.
         * With no reference left no journal uses this handle, so {@link #jvmLock} is not needed.
         */
        void release() {
            synchronized (JournalLocks.class) {
                if (--refs > 0) {
                    return;
                }
                HANDLES.remove(lockFile);
                if (channel != null) {
                    try {
                        channel.close();
                    } catch (IOException ignored) {
                        // Closing releases the lock; nothing else to undo.
                    }
                    channel = null;
                }
            }
        }

        private FileChannel channel() throws IOException {
            if (channel == null || !channel.isOpen()) {
                if (!Files.exists(lockFile.getParent())) {
                    throw new IOException("journal directory " + lockFile.getParent() + " is gone");
                }
                channel = FileSync.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.READ,
                        StandardOpenOption.WRITE);
                channelKey = keyOf(lockFile);
            }
            return channel;
        }

        private static Object keyOf(Path file) throws IOException {
            try {
                return Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).fileKey();
            } catch (NoSuchFileException e) {
                return null;
            }
        }

        private void checkHeld() {
            if (!jvmLock.isHeldByCurrentThread()) {
                throw new IllegalStateException("the in-JVM journal lock must be held first");
            }
        }
    }
}
