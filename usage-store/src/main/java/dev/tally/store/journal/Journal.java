package dev.tally.store.journal;

import dev.tally.store.EventRejectedException;
import dev.tally.store.ReadOnlyStoreException;
import dev.tally.store.StoreException;
import dev.tally.store.UsageEvent;
import dev.tally.store.ValidEvent;
import dev.tally.store.io.FileSync;
import java.io.IOException;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;
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
 * json = the event as written by {@link dev.tally.store.EventCodec#toJson}: one line, no LF
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
 * <h2>Thread safety</h2>
 * Thread-safe. The write path state (the write buffer, what this journal last wrote, the live
 * journal's first-seen time) is guarded by the in-JVM lock; the live journal file, rotation and the
 * lock file's content by the in-JVM lock and then the file lock, in that order (never the
 * reverse). The queue is lock-free, counters are atomic, followers wait on a monitor that is never
 * held while taking either lock, and the background fsync of {@link FsyncPolicy#interval} takes no
 * lock (it only forces files to disk).
 */
public final class Journal implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Journal.class);
    private static final int PREVIEW_BYTES = 120;

    private final JournalConfig config;
    private final JournalFiles files;
    /** Null when read-only. */
    private final JournalLocks.Handle locks;
    private final boolean readOnly;
    private final ConcurrentLinkedQueue<Pending> queue = new ConcurrentLinkedQueue<>();
    private final ScheduledExecutorService syncer;
    private final AtomicBoolean dirty = new AtomicBoolean();
    private final AtomicBoolean closing = new AtomicBoolean();
    private volatile boolean closed;
    private volatile Throwable failure;

    // Guarded by locks.jvmLock().
    private ByteBuffer writeBuffer;
    /** Identity and size of journal.wal as this journal last left it, to skip the tail check. */
    private Object knownKey;
    private long knownSize = -1;
    /** Identity of the live journal whose age is being measured, and since when. */
    private Object liveKey;
    private Instant liveSince;

    private final LongAdder appends = new LongAdder();
    private final LongAdder events = new LongAdder();
    private final LongAdder groups = new LongAdder();
    private final LongAdder syncs = new LongAdder();
    private final LongAdder bytes = new LongAdder();
    private final LongAdder rotations = new LongAdder();
    private final LongAdder tailRepairs = new LongAdder();

    private Journal(JournalConfig config, JournalLocks.Handle locks) {
        this.config = config;
        this.files = config.files();
        this.locks = locks;
        this.readOnly = locks == null;
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
            j.syncer.scheduleWithFixedDelay(j::backgroundSync, every, every, TimeUnit.NANOSECONDS);
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
        write(RecordFormat.encodeBatch(events, config.maxRecordBytes()), events.size());
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
        write(RecordFormat.encodeValid(events, config.maxRecordBytes()), events.size());
    }

    private void write(byte[] records, int count) {
        Pending p = new Pending(records, count);
        queue.add(p);
        ReentrantLock l = locks.jvmLock();
        boolean interrupted = false;
        while (!p.done) {
            if (l.tryLock()) {
                try {
                    if (!p.done) {
                        commitQueued(); // leader: writes every queued batch, ours included
                    }
                } finally {
                    l.unlock();
                    locks.signalGroupDone();
                }
            } else {
                // Follower: a leader is writing; ours is done by it or we lead the next group.
                interrupted |= locks.awaitGroupDone(() -> p.done);
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
        if (p.error != null) {
            throw new StoreException("journal append of " + count + " event(s) failed: " + p.error.getMessage(),
                    p.error);
        }
    }

    /**
     * Cuts a torn tail of the live journal, under both locks (see the class doc). {@link #open}
     * calls it; calling it again is harmless.
     */
    public RecoveryReport recover() {
        checkWritable("journal recovery");
        return underLocks(() -> {
            Path live = files.liveFile();
            FileChannel ch;
            try {
                ch = FileSync.open(live, StandardOpenOption.READ, StandardOpenOption.WRITE);
            } catch (NoSuchFileException e) {
                return new RecoveryReport(0, 0, 0);
            }
            try (ch) {
                long size = ch.size();
                long good = cutTornTail(ch, ch, size, "on recovery");
                Object key = fileKey(live);
                knownKey = key;
                knownSize = good;
                if (good > 0) {
                    noteLive(key);
                }
                return new RecoveryReport(size, good, lastLinesCut);
            }
        });
    }

    /** Rotates the live journal now unless it is empty; returns the new archive. */
    public Optional<Path> rotate() {
        checkWritable("journal rotation");
        return underLocks(() -> rotateIf(true));
    }

    /** Rotates the live journal if it is too big or too old; returns the new archive. */
    public Optional<Path> rotateIfDue() {
        checkWritable("journal rotation");
        return underLocks(() -> rotateIf(false));
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
            syncLive();
        } catch (IOException e) {
            fail(e);
            throw new StoreException("journal fsync failed: " + e.getMessage(), e);
        }
    }

    /**
     * The fsync failure after which this instance refuses every append, if one happened. The
     * worker treats it as unrecoverable: the page cache's state is unknown after a failed fsync.
     */
    public Optional<Throwable> failure() {
        return Optional.ofNullable(failure);
    }

    /** A snapshot of this instance's counters. */
    public JournalStats stats() {
        return new JournalStats(appends.sum(), events.sum(), groups.sum(), syncs.sum(), bytes.sum(),
                rotations.sum(), tailRepairs.sum());
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
            closed = true;
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
            commitQueued();
            closed = true;
            if (dirty.getAndSet(false) && failure == null) {
                try {
                    syncLive();
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

    // ---------------------------------------------------------------- write path (in-JVM lock held)

    /** Writes every queued batch as one group. Caller holds the in-JVM lock. */
    private void commitQueued() {
        List<Pending> group = new ArrayList<>();
        long total = 0;
        for (Pending q; (q = queue.poll()) != null; ) {
            group.add(q);
            total += q.bytes.length;
        }
        if (group.isEmpty()) {
            return;
        }
        Throwable error = null;
        boolean interrupted = Thread.interrupted(); // an interrupt would close the channels mid-write
        try {
            if (closed) {
                throw new StoreException("journal is closed");
            }
            if (failure != null) {
                throw new StoreException("journal failed earlier: " + failure.getMessage(), failure);
            }
            FileLock fileLock = locks.lockFile();
            try {
                writeGroup(group, total);
            } finally {
                releaseQuietly(fileLock);
            }
        } catch (Throwable e) { // every batch of the group must be completed, whatever happened
            error = e;
            knownKey = null;
            knownSize = -1;
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
        for (Pending q : group) {
            q.error = error;
            q.done = true;
        }
        if (error == null) {
            appends.add(group.size());
            for (Pending q : group) {
                events.add(q.events);
            }
        } else if (error instanceof Error fatal) {
            throw fatal;
        }
    }

    /** Both locks held. */
    private void writeGroup(List<Pending> group, long total) throws IOException {
        Path live = files.liveFile();
        FileChannel ch = openLiveForAppend();
        try {
            long size = ch.size();
            Object key = fileKey(live);
            if (key == null || !key.equals(knownKey) || size != knownSize) {
                size = cutTornTail(null, ch, size, "before a write");
            }
            String reason = rotationReason(size, total, key);
            if (reason != null) {
                ch.close();
                rotateLocked(size, reason);
                ch = openLiveForAppend();
                size = ch.size();
                key = fileKey(live);
            }
            ByteBuffer buf = fill(group, total);
            long before = size;
            try {
                while (buf.hasRemaining()) {
                    ch.write(buf);
                }
            } catch (IOException e) {
                undoPartialWrite(before);
                throw e;
            }
            if (config.fsyncPolicy() == FsyncPolicy.PER_BATCH) {
                try {
                    ch.force(false);
                    if (before == 0) {
                        FileSync.fsyncDirectory(files.journalDir()); // the file may be new
                    }
                } catch (IOException e) {
                    fail(e);
                    throw e;
                }
                syncs.increment();
            } else {
                dirty.set(true);
            }
            knownKey = key;
            knownSize = before + total;
            noteLive(key);
            groups.increment();
            bytes.add(total);
        } finally {
            ch.close();
        }
    }

    private FileChannel openLiveForAppend() throws IOException {
        return FileSync.open(files.liveFile(), StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.APPEND);
    }

    /** Copies the group into the reusable direct buffer. */
    private ByteBuffer fill(List<Pending> group, long total) {
        if (total > Integer.MAX_VALUE - 16) {
            throw new StoreException("write group of " + total + " bytes is too large");
        }
        if (writeBuffer == null || writeBuffer.capacity() < total) {
            writeBuffer = ByteBuffer.allocateDirect((int) Math.max(64 * 1024, Math.min(Integer.MAX_VALUE - 16,
                    Long.highestOneBit(total) << 1)));
        }
        ByteBuffer buf = writeBuffer;
        buf.clear();
        for (Pending q : group) {
            buf.put(q.bytes);
        }
        buf.flip();
        return buf;
    }

    /** After a failed write, cuts what it may have left so the file ends at a record boundary. */
    private void undoPartialWrite(long size) {
        try (FileChannel ch = FileSync.open(files.liveFile(), StandardOpenOption.WRITE)) {
            if (ch.size() > size) {
                ch.truncate(size);
                ch.force(true);
            }
        } catch (IOException e) {
            LOG.warn("journal {}: could not cut a failed write back to {} bytes; the next writer or recovery cuts "
                    + "it: {}", files.liveFile(), size, e.toString());
        }
    }

    // ---------------------------------------------------------------- rotation (both locks held)

    /** Why the live journal should rotate before writing {@code incoming} more bytes, or null. */
    private String rotationReason(long size, long incoming, Object key) {
        if (size == 0) {
            return null;
        }
        if (size + incoming > config.maxJournalBytes()) {
            return "size: " + size + " + " + incoming + " bytes would pass maxJournalBytes = " + config.maxJournalBytes();
        }
        noteLive(key);
        Instant now = config.clock().instant();
        if (!now.isBefore(liveSince.plus(config.maxJournalAge()))) {
            return "age: live since " + liveSince + ", maxJournalAge = " + config.maxJournalAge();
        }
        return null;
    }

    private Optional<Path> rotateIf(boolean force) throws IOException {
        Path live = files.liveFile();
        long size;
        Object key;
        try (FileChannel ch = FileSync.open(live, StandardOpenOption.WRITE, StandardOpenOption.APPEND)) {
            size = cutTornTail(null, ch, ch.size(), "before a rotation");
            key = fileKey(live);
        } catch (NoSuchFileException e) {
            return Optional.empty();
        }
        String reason = force ? (size == 0 ? null : "requested") : rotationReason(size, 0, key);
        if (reason == null) {
            return Optional.empty();
        }
        return Optional.of(rotateLocked(size, reason));
    }

    private Path rotateLocked(long size, String reason) throws IOException {
        Path live = files.liveFile();
        try {
            FileSync.fsyncFile(live);
        } catch (IOException e) {
            fail(e); // an fsync that failed once cannot be trusted again: refuse appends from now on
            throw e;
        }
        syncs.increment();
        long number = nextArchiveNumber();
        Path archive = files.archive(number);
        while (Files.exists(archive, LinkOption.NOFOLLOW_LINKS)) {
            archive = files.archive(++number);
        }
        // ATOMIC_MOVE is rename(2), which would replace an existing file; the check above, made
        // under the exclusive lock that every rotation holds, is what rules that out.
        FileSync.rename(live, archive);
        try {
            FileSync.fsyncDirectory(files.journalDir());
        } catch (IOException e) {
            fail(e);
            throw e;
        }
        locks.writeHighWater(number);
        rotations.increment();
        knownKey = null;
        knownSize = -1;
        liveKey = null;
        liveSince = null;
        LOG.info("rotated journal {} ({} bytes) to {}: {}", JournalFiles.LIVE_FILE, size,
                archive.getFileName(), reason);
        return archive;
    }

    /** max(now in epoch nanos, highest archive number on disk + 1, last recorded number + 1). */
    private long nextArchiveNumber() throws IOException {
        Instant now = config.clock().instant();
        long nanos;
        try {
            nanos = Math.max(0, Math.addExact(Math.multiplyExact(now.getEpochSecond(), 1_000_000_000L), now.getNano()));
        } catch (ArithmeticException e) {
            nanos = Long.MAX_VALUE / 2;
        }
        long next = Math.max(nanos, locks.readHighWater() + 1);
        BigInteger limit = BigInteger.valueOf(Long.MAX_VALUE / 2);
        for (Path archive : JournalReader.listArchives(files.journalDir())) {
            BigInteger n = JournalFiles.archiveNumber(archive.getFileName().toString()).orElseThrow();
            if (n.compareTo(limit) < 0) {
                next = Math.max(next, n.longValueExact() + 1);
            }
        }
        return next;
    }

    /** Starts measuring the live journal's age when this journal first sees it. In-JVM lock held. */
    private void noteLive(Object key) {
        if (liveSince == null || key == null || !key.equals(liveKey)) {
            liveKey = key;
            liveSince = config.clock().instant();
        }
    }

    // ---------------------------------------------------------------- torn tails (both locks held)

    /** Lines cut by the last {@link #cutTornTail}; guarded by the in-JVM lock. */
    private int lastLinesCut;

    /**
     * Cuts the live journal back to its last intact record if anything follows it; returns the new
     * size. {@code reader} may be null (the file is then opened for reading); {@code writer}
     * truncates.
     */
    private long cutTornTail(FileChannel reader, FileChannel writer, long size, String when) throws IOException {
        lastLinesCut = 0;
        if (size == 0) {
            return 0;
        }
        FileChannel r = reader != null ? reader : FileChannel.open(files.liveFile(), StandardOpenOption.READ);
        try {
            TailScanner.Result res = TailScanner.scan(r, size);
            if (res.goodEnd() == size) {
                return size;
            }
            byte[] head = TailScanner.head(r, res.goodEnd(), PREVIEW_BYTES);
            writer.truncate(res.goodEnd());
            writer.force(true);
            tailRepairs.increment();
            lastLinesCut = res.linesCut();
            LOG.warn("journal {}: cut a torn tail {}: {} bytes ({} line(s)) from offset {}; kept {} bytes of intact "
                            + "records; the cut bytes began: {}", files.liveFile(), when, size - res.goodEnd(),
                    res.linesCut(), res.goodEnd(), res.goodEnd(), TailScanner.printable(head));
            return res.goodEnd();
        } finally {
            if (reader == null) {
                r.close();
            }
        }
    }

    // ---------------------------------------------------------------- fsync, failure, helpers

    private void backgroundSync() {
        if (!dirty.getAndSet(false) || failure != null) {
            return;
        }
        try {
            syncLive();
        } catch (IOException | RuntimeException e) {
            fail(e);
        }
    }

    /** Forces journal.wal (if present) and the directory. Takes no lock: it only flushes. */
    private void syncLive() throws IOException {
        try {
            FileSync.fsyncFile(files.liveFile());
        } catch (NoSuchFileException rotated) {
            // Rotated meanwhile: the rotation fsynced it before the rename.
        }
        FileSync.fsyncDirectory(files.journalDir());
        syncs.increment();
    }

    private void fail(Throwable e) {
        if (failure == null) {
            failure = e;
        }
        LOG.error("journal {}: fsync failed; this instance refuses further appends (reopen the journal). "
                + "Events acknowledged without a completed fsync may be lost on power failure", files.liveFile(), e);
    }

    private void checkWritable(String operation) {
        if (readOnly) {
            throw new ReadOnlyStoreException(operation);
        }
    }

    private void ensureUsable() {
        if (closed || closing.get()) {
            throw new StoreException("journal " + files.journalDir() + " is closed");
        }
        Throwable f = failure;
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
                releaseQuietly(fileLock);
            }
        } catch (IOException e) {
            knownKey = null;
            knownSize = -1;
            throw new StoreException("journal " + files.journalDir() + ": " + e.getMessage(), e);
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
            l.unlock();
            locks.signalGroupDone();
        }
    }

    private static void releaseQuietly(FileLock lock) {
        if (lock == null) {
            return; // switched off by a mutation test
        }
        try {
            lock.release();
        } catch (IOException e) {
            LOG.debug("journal lock release failed (the channel is closed, which released it): {}", e.toString());
        }
    }

    private static Object fileKey(Path file) throws IOException {
        return Files.readAttributes(file, java.nio.file.attribute.BasicFileAttributes.class,
                LinkOption.NOFOLLOW_LINKS).fileKey();
    }

    // ---------------------------------------------------------------- test hooks

    /** The in-JVM lock, so tests can hold appenders back to observe group commit. */
    ReentrantLock jvmLockForTest() {
        return locks.jvmLock();
    }

    /** Batches queued and not yet taken by a leader. */
    int queuedForTest() {
        return queue.size();
    }

    /** One caller's encoded batch. Completed by the leader under the in-JVM lock. */
    private static final class Pending {
        final byte[] bytes;
        final int events;
        volatile boolean done;
        volatile Throwable error;

        Pending(byte[] bytes, int events) {
            this.bytes = bytes;
            this.events = events;
        }
    }
}
