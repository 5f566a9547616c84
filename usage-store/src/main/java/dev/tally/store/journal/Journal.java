package dev.tally.store.journal;

import dev.tally.store.EventRejectedException;
import dev.tally.store.ReadOnlyStoreException;
import dev.tally.store.StoreException;
import dev.tally.store.UsageEvent;
import dev.tally.store.ValidEvent;
import dev.tally.store.io.FileSync;
import java.io.IOException;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The durable producer-side journal of usage events. Billing services call {@link #append(List)},
 * which returns only once the events are durable ({@link FsyncPolicy}); the worker's importer reads
 * the files with {@link JournalReader} and {@link #reap(Predicate) reaps} archives it has fully
 * imported. Any number of threads and processes may append to one journal at once.
 *
 * <h2>Files</h2>
 * See {@link JournalFiles}: {@code journal/journal.wal} (live), {@code journal/journal.lock}
 * (lock file, never deleted) and {@code journal/journal-<19-digit epoch nanos>.wal} (archives).
 *
 * <h2>Record format</h2>
 * UTF-8 text, one record per line, nothing else in the file (no header):
 * <pre>
 * &lt;crc&gt; SP &lt;json&gt; LF
 * crc  = 8 lower-case hex digits: CRC32C (Castagnoli) of exactly the json bytes, XOR 7a11c0de
 *        for a canonical record (see below)
 * json = the event as written by {@link dev.tally.store.EventCodec#toJson}: one line, no LF;
 *        for a correction record (crc XOR 0c0aaec7), the correction as written by
 *        {@link dev.tally.store.correct.CorrectionCodec#toJson}
 *
 * 1b2c3d4e {"tenant":"acme","id":"req-1","type":"llm.request","subject":"key-7",
 *           "time":"2026-11-20T10:00:00.123456Z","data":{"input_tokens":812}}
 * </pre>
 * (shown wrapped; on disk it is one line). The checksum makes any damaged byte detectable: plain
 * JSON could silently turn {@code 812} into {@code 813}. A line is an intact record when it ends in
 * LF, its first 9 bytes are 8 lower-case hex digits and a space, the checksum matches and the JSON
 * parses. An event that passes the clock-free rules of {@link dev.tally.store.EventRules} is written
 * in canonical form with the marked checksum, and the importer reads such a record without
 * validating it again (it checks only the time bounds, which depend on its clock). Any other event
 * is written unmarked and parsed back before it is written, so the journal never writes a record
 * its reader would refuse, and the importer dead-letters it with the store's reason.
 *
 * <h2>Append protocol</h2>
 * Appenders encode their batch outside any lock and queue it. Then each tries the in-JVM lock; the
 * one that gets it while its batch is still queued becomes the <em>leader</em>: it drains every
 * queued batch (its followers' too), takes the exclusive {@link FileLock} on {@code journal.lock},
 * opens {@code journal.wal} by path with {@code APPEND} (so a rotation by another process is always
 * seen and no stale descriptor is ever written), cuts a torn tail left by a crashed writer if the
 * file is not exactly as this journal last left it, rotates if due, writes the whole group with one
 * write, fsyncs it ({@link FsyncPolicy#PER_BATCH}), releases the file lock, completes every batch
 * of the group, releases the in-JVM lock and wakes all waiting followers at once. A follower (one
 * that found the lock taken) waits until its batch is done or the lock is free; in the latter case
 * it tries to lead the next group, which holds everything queued meanwhile. Concurrent appenders so
 * share one write and one fsync (group commit), and followers never queue up behind each other.
 *
 * <p>A batch's records are contiguous in the file. A crash during the write can leave a prefix of
 * a group that was never acknowledged; the producer's retry then stores those events again, which
 * the store's {@code (tenant, id)} deduplication absorbs.
 *
 * <h2>Rotation</h2>
 * Under the same two locks, before a group would take the live journal past
 * {@link JournalConfig#maxJournalBytes()}, or once it is {@link JournalConfig#maxJournalAge()} old,
 * or on {@link #rotate()}: fsync {@code journal.wal}, rename it to a new archive name (never
 * replacing a file), fsync the directory, record the archive number in the lock file. An empty
 * live journal is never rotated.
 *
 * <h2>Recovery</h2>
 * {@link #open} runs {@link #recover()} under both locks: a torn tail of {@code journal.wal} (an
 * incomplete last line, or last lines failing framing or checksum) is cut at the end of the last
 * intact record and logged with its offset and size, and the journal opens. Damage before the tail
 * is never cut: the reader reports it as a damaged record, which the importer dead-letters with
 * its offset and reason. A last line with a valid checksum but invalid JSON is not a torn write
 * (see above) and is kept for the reader to report. The importer should open (and so recover) the
 * journal before it starts reading.
 *
 * <h2>Failures</h2>
 * An append that throws {@link StoreException} was not acknowledged; its events may or may not be
 * in the file, and a retry is safe because the store deduplicates. A failed fsync leaves the page
 * cache in an unknown state, so this instance then refuses every further append; open a new one.
 *
 * <h2>Read-only</h2>
 * {@link #openReadOnly} gives a report-only journal: it creates, locks, cuts and deletes nothing,
 * and every write method ({@link #append}, {@link #recover}, {@link #rotate},
 * {@link #rotateIfDue}, {@link #reap}, {@link #sync}) throws {@link ReadOnlyStoreException}. Read
 * the files with {@link JournalReader}.
 *
 * <h2>Classes</h2>
 * This class is the front: open, recovery, rotation, reaping, close and the counters.
 * {@link GroupCommit} runs the append protocol, {@link LiveJournal} writes, cuts, rotates and forces
 * {@code journal.wal}, and {@link RecordFormat} is the one place records are encoded and decoded.
 *
 * <h2>Thread safety</h2>
 * Thread-safe. The write path state (the write buffer, what this journal last wrote, the live
 * journal's first-seen time, all in {@link LiveJournal}) is guarded by the in-JVM lock; the live
 * journal file, rotation and the lock file's content by the in-JVM lock and then the file lock, in
 * that order (never the reverse). The queue is lock-free, counters are atomic, followers wait on a
 * monitor that is never held while taking either lock, and the background fsync of
 * {@link FsyncPolicy#interval} takes no lock (it only forces files to disk).
 */
public final class Journal implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Journal.class);

    private final JournalConfig config;
    private final JournalFiles files;
    /** Null when read-only. */
    private final JournalLocks.Handle locks;
    private final boolean readOnly;
    /** Null when read-only. */
    private final LiveJournal live;
    /** Null when read-only. */
    private final GroupCommit commits;
    private final ScheduledExecutorService syncer;
    private final AtomicBoolean closing = new AtomicBoolean();

    private Journal(JournalConfig config, JournalLocks.Handle locks) {
        this.config = config;
        this.files = config.files();
        this.locks = locks;
        this.readOnly = locks == null;
        this.live = readOnly ? null : new LiveJournal(config, locks);
        this.commits = readOnly ? null : new GroupCommit(locks, live);
        this.syncer = !readOnly && config.fsyncPolicy() instanceof FsyncPolicy.Interval
                ? Executors.newSingleThreadScheduledExecutor(r -> {
                    Thread t = new Thread(r, "tally-journal-fsync");
                    t.setDaemon(true);
                    return t;
                })
                : null;
    }

    /**
     * Opens the journal in {@code config.dir()/journal}, creating it if needed, and runs
     * {@link #recover()}.
     *
     * @throws StoreException if the directory or files cannot be created, locked or repaired
     */
    public static Journal open(JournalConfig config) {
        Objects.requireNonNull(config, "config");
        JournalFiles files = config.files();
        JournalLocks.Handle handle;
        try {
            if (!Files.isDirectory(files.journalDir())) {
                Files.createDirectories(files.journalDir());
                FileSync.fsyncDirectory(files.root());
            }
            handle = JournalLocks.acquire(files.lockFile());
        } catch (IOException e) {
            throw new StoreException("cannot open journal in " + files.journalDir() + ": " + e.getMessage(), e);
        }
        Journal j = new Journal(config, handle);
        try {
            j.recover();
        } catch (RuntimeException e) {
            if (j.syncer != null) {
                j.syncer.shutdownNow();
            }
            handle.release();
            throw e;
        }
        if (j.syncer != null) {
            long every = ((FsyncPolicy.Interval) config.fsyncPolicy()).every().toNanos();
            j.syncer.scheduleWithFixedDelay(j.live::backgroundSync, every, every, TimeUnit.NANOSECONDS);
        }
        return j;
    }

    /**
     * Opens the journal in {@code config.dir()/journal} report-only: nothing is created, locked,
     * recovered or written, and every write method throws {@link ReadOnlyStoreException}.
     */
    public static Journal openReadOnly(JournalConfig config) {
        Objects.requireNonNull(config, "config");
        return new Journal(config, null);
    }

    /** Whether this journal was opened report-only. */
    public boolean readOnly() {
        return readOnly;
    }

    public JournalConfig config() {
        return config;
    }

    public JournalFiles files() {
        return files;
    }

    /**
     * Appends {@code events} and returns once they are durable under the configured
     * {@link FsyncPolicy}. The batch is written contiguously, together with whatever other threads
     * of this JVM queued meanwhile. An empty list returns at once.
     *
     * @throws EventRejectedException if an event cannot be written as a journal record (its JSON does
     *                                not parse back, or its record is longer than
     *                                {@link JournalConfig#maxRecordBytes()}); the message names the
     *                                event's index and id, and nothing of the batch is written
     * @throws StoreException         if the write or fsync failed, or the journal is closed or failed
     *                                earlier; the batch was not acknowledged (see the class doc)
     */
    public void append(List<UsageEvent> events) throws EventRejectedException {
        Objects.requireNonNull(events, "events");
        checkWritable("journal append");
        if (events.isEmpty()) {
            return;
        }
        ensureUsable();
        commits.write(RecordFormat.encodeBatch(events, config.maxRecordBytes()), events.size());
    }

    /**
     * Like {@link #append}, for events already validated: they are written as canonical records,
     * which the importer reads without validating again. Encoding runs on the calling thread,
     * outside the journal's lock.
     *
     * @throws EventRejectedException if an event's record is longer than
     *                                {@link JournalConfig#maxRecordBytes()}; nothing is written
     * @throws StoreException         as {@link #append}
     */
    public void appendValid(List<ValidEvent> events) throws EventRejectedException {
        Objects.requireNonNull(events, "events");
        checkWritable("journal append");
        if (events.isEmpty()) {
            return;
        }
        ensureUsable();
        commits.write(RecordFormat.encodeValid(events, config.maxRecordBytes()), events.size());
    }

    /**
     * Appends one correction as a record of its own and returns once it is durable, like
     * {@link #append}. The importer applies it in journal order: after every event appended before
     * it (from any thread or process) and before every event appended after it. The store's own
     * checks (unknown ids, closed periods, tenant ownership) run when it is imported; what it
     * refuses is dead-lettered with the record's bytes and the reason.
     *
     * @throws IllegalArgumentException if the correction cannot be written as a record (a field
     *                                  the codec refuses, named in the message, or a record longer
     *                                  than {@link JournalConfig#maxRecordBytes()}); nothing is written
     * @throws StoreException           as {@link #append}
     */
    public void appendCorrection(dev.tally.store.correct.Correction correction) {
        Objects.requireNonNull(correction, "correction");
        checkWritable("journal append");
        ensureUsable();
        commits.write(RecordFormat.encodeCorrection(correction, config.maxRecordBytes()), 0);
    }

    /**
     * Cuts a torn tail of the live journal, under both locks (see the class doc). {@link #open}
     * calls it; calling it again is harmless.
     */
    public RecoveryReport recover() {
        checkWritable("journal recovery");
        return underLocks(live::recover);
    }

    /** Rotates the live journal now unless it is empty; returns the new archive. */
    public Optional<Path> rotate() {
        checkWritable("journal rotation");
        return underLocks(() -> live.rotateIf(true));
    }

    /** Rotates the live journal if it is too big or too old; returns the new archive. */
    public Optional<Path> rotateIfDue() {
        checkWritable("journal rotation");
        return underLocks(() -> live.rotateIf(false));
    }

    /**
     * Deletes rotated archives that the importer has fully imported. Only regular files named
     * exactly {@code journal-\d+\.wal} are considered, so the live journal and the lock file can
     * never be deleted. Each deletion is logged with its reason. Archives are immutable, so no
     * lock is taken and the predicate may be slow.
     *
     * @param isFullyImported asked once per archive, in import order
     * @return the archives deleted
     */
    public List<Path> reap(Predicate<Path> isFullyImported) {
        Objects.requireNonNull(isFullyImported, "isFullyImported");
        checkWritable("journal reaping");
        List<Path> deleted = new ArrayList<>();
        try {
            for (Path archive : JournalReader.listArchives(files.journalDir())) {
                String name = archive.getFileName().toString();
                if (!JournalFiles.isArchiveName(name) || name.equals(JournalFiles.LIVE_FILE)
                        || name.equals(JournalFiles.LOCK_FILE)) {
                    continue; // listArchives already guarantees this; never trust one check alone here
                }
                if (!isFullyImported.test(archive)) {
                    LOG.debug("journal archive {} kept: not fully imported", name);
                    continue;
                }
                long size;
                try {
                    size = Files.size(archive);
                } catch (NoSuchFileException gone) {
                    continue; // reaped by another process meanwhile
                }
                if (FileSync.deleteDurably(archive)) {
                    LOG.info("deleted journal archive {} ({} bytes): reason: the importer reports it fully imported",
                            name, size);
                    deleted.add(archive);
                }
            }
        } catch (IOException e) {
            throw new StoreException("cannot reap journal archives in " + files.journalDir() + ": " + e.getMessage(), e);
        }
        return deleted;
    }

    /** Forces the live journal and its directory to disk now, whatever the policy. */
    public void sync() {
        checkWritable("journal fsync");
        ensureUsable();
        try {
            live.syncLive();
        } catch (IOException e) {
            live.fail(e);
            throw new StoreException("journal fsync failed: " + e.getMessage(), e);
        }
    }

    /**
     * The fsync failure after which this instance refuses every append, if one happened. The
     * worker treats it as unrecoverable: the page cache's state is unknown after a failed fsync.
     */
    public Optional<Throwable> failure() {
        return Optional.ofNullable(readOnly ? null : live.failure());
    }

    /** A snapshot of this instance's counters. */
    public JournalStats stats() {
        if (readOnly) {
            return new JournalStats(0, 0, 0, 0, 0, 0, 0);
        }
        return new JournalStats(commits.appends(), commits.events(), live.groups.sum(), live.syncs.sum(),
                live.bytes.sum(), live.rotations.sum(), live.tailRepairs.sum());
    }

    /**
     * Writes what is still queued, fsyncs (for {@link FsyncPolicy#interval}), and releases the lock
     * file handle. Later appends fail. Idempotent.
     */
    @Override
    public void close() {
        if (!closing.compareAndSet(false, true)) {
            return;
        }
        if (readOnly) {
            return;
        }
        if (syncer != null) {
            syncer.shutdown();
            try {
                syncer.awaitTermination(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        ReentrantLock l = locks.jvmLock();
        l.lock();
        try {
            commits.drainAndClose();
            if (live.takeDirty() && live.failure() == null) {
                try {
                    live.syncLive();
                } catch (IOException e) {
                    LOG.error("journal fsync on close failed; events acknowledged since the last fsync may be lost "
                            + "on power failure", e);
                }
            }
        } finally {
            l.unlock();
            locks.signalGroupDone();
            locks.release();
        }
    }

    private void checkWritable(String operation) {
        if (readOnly) {
            throw new ReadOnlyStoreException(operation);
        }
    }

    private void ensureUsable() {
        if (commits.closed() || closing.get()) {
            throw new StoreException("journal " + files.journalDir() + " is closed");
        }
        Throwable f = live.failure();
        if (f != null) {
            throw new StoreException("journal " + files.journalDir() + " failed earlier and refuses appends: "
                    + f.getMessage(), f);
        }
    }

    private interface LockedAction<T> {
        T run() throws IOException;
    }

    /** Runs {@code action} holding the in-JVM lock and then the file lock. */
    private <T> T underLocks(LockedAction<T> action) {
        ReentrantLock l = locks.jvmLock();
        l.lock();
        boolean interrupted = Thread.interrupted();
        try {
            FileLock fileLock = locks.lockFile();
            try {
                return action.run();
            } finally {
                GroupCommit.releaseQuietly(fileLock);
            }
        } catch (IOException e) {
            live.forgetKnownState();
            throw new StoreException("journal " + files.journalDir() + ": " + e.getMessage(), e);
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
            l.unlock();
            locks.signalGroupDone();
        }
    }

    // ---------------------------------------------------------------- test hooks

    /** The in-JVM lock, so tests can hold appenders back to observe group commit. */
    ReentrantLock jvmLockForTest() {
        return locks.jvmLock();
    }

    /** Batches queued and not yet taken by a leader. */
    int queuedForTest() {
        return commits.queued();
    }
}
