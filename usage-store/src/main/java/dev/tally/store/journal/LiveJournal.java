package dev.tally.store.journal;

import dev.tally.store.StoreException;
import dev.tally.store.io.FileSync;
import java.io.IOException;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The live journal file, {@code journal.wal}, as one {@link Journal} instance writes it: a write
 * group's single write and fsync, cutting a torn tail, rotation to an archive, and the fsync
 * failure after which the instance refuses appends. The record bytes it writes come from
 * {@link RecordFormat}; this class never looks inside them.
 *
 * <p>Not thread-safe on its own: every method that reads or changes the file or the state of what
 * this instance last wrote ({@link #writeGroup}, {@link #recover}, {@link #rotateIf},
 * {@link #forgetKnownState}) runs with the journal's in-JVM lock and then its file lock held (see
 * {@link JournalLocks}), which guard the fields below. {@link #syncLive()}, {@link #fail} and the
 * counters take no lock: the failure is volatile, the dirty flag and the counters are atomic, and
 * an fsync only forces files to disk.
 */
final class LiveJournal {
    private static final Logger LOG = LoggerFactory.getLogger(LiveJournal.class);
    private static final int PREVIEW_BYTES = 120;

    private final JournalConfig config;
    private final JournalFiles files;
    private final JournalLocks.Handle locks;
    /** Set by a write under {@code interval:<d>}; the timer forces the file when it is set. */
    private final AtomicBoolean dirty = new AtomicBoolean();
    private volatile Throwable failure;

    // Guarded by the in-JVM lock (and the file lock while the file is touched).
    private ByteBuffer writeBuffer;
    /** Identity and size of journal.wal as this journal last left it, to skip the tail check. */
    private Object knownKey;
    private long knownSize = -1;
    /** Identity of the live journal whose age is being measured, and since when. */
    private Object liveKey;
    private Instant liveSince;

    final LongAdder groups = new LongAdder();
    final LongAdder syncs = new LongAdder();
    final LongAdder bytes = new LongAdder();
    final LongAdder rotations = new LongAdder();
    final LongAdder tailRepairs = new LongAdder();

    LiveJournal(JournalConfig config, JournalLocks.Handle locks) {
        this.config = config;
        this.files = config.files();
        this.locks = locks;
    }

    /** Cuts a torn tail of the live journal (see {@link Journal#recover()}). Both locks held. */
    RecoveryReport recover() throws IOException {
        Path live = files.liveFile();
        FileChannel ch;
        try {
            ch = FileSync.open(live, StandardOpenOption.READ, StandardOpenOption.WRITE);
        } catch (NoSuchFileException e) {
            return new RecoveryReport(0, 0, 0);
        }
        try (ch) {
            long size = ch.size();
            TailCut cut = cutTornTail(ch, ch, size, "on recovery");
            Object key = fileKey(live);
            knownKey = key;
            knownSize = cut.size();
            if (cut.size() > 0) {
                noteLive(key);
            }
            return new RecoveryReport(size, cut.size(), cut.linesCut());
        }
    }

    /** After a failed write or lock: the next write checks the tail again. In-JVM lock held. */
    void forgetKnownState() {
        knownKey = null;
        knownSize = -1;
    }

    // ---------------------------------------------------------------- write path (both locks held)

    /** Writes one group's records with one write and, under {@link FsyncPolicy#PER_BATCH}, one fsync. */
    void writeGroup(List<byte[]> records, long total) throws IOException {
        Path live = files.liveFile();
        FileChannel ch = openLiveForAppend();
        try {
            long size = ch.size();
            Object key = fileKey(live);
            if (key == null || !key.equals(knownKey) || size != knownSize) {
                size = cutTornTail(null, ch, size, "before a write").size();
            }
            String reason = rotationReason(size, total, key);
            if (reason != null) {
                ch.close();
                rotateLocked(size, reason);
                ch = openLiveForAppend();
                size = ch.size();
                key = fileKey(live);
            }
            ByteBuffer buf = fill(records, total);
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
    private ByteBuffer fill(List<byte[]> records, long total) {
        if (total > Integer.MAX_VALUE - 16) {
            throw new StoreException("write group of " + total + " bytes is too large");
        }
        if (writeBuffer == null || writeBuffer.capacity() < total) {
            writeBuffer = ByteBuffer.allocateDirect((int) Math.max(64 * 1024, Math.min(Integer.MAX_VALUE - 16,
                    Long.highestOneBit(total) << 1)));
        }
        ByteBuffer buf = writeBuffer;
        buf.clear();
        for (byte[] r : records) {
            buf.put(r);
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

    /** Rotates when due, or always when {@code force} (unless empty); returns the new archive. */
    Optional<Path> rotateIf(boolean force) throws IOException {
        Path live = files.liveFile();
        long size;
        Object key;
        try (FileChannel ch = FileSync.open(live, StandardOpenOption.WRITE, StandardOpenOption.APPEND)) {
            size = cutTornTail(null, ch, ch.size(), "before a rotation").size();
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

    /** The live journal's size after a tail check, and how many lines were cut. */
    private record TailCut(long size, int linesCut) {
    }

    /**
     * Cuts the live journal back to its last intact record if anything follows it. {@code reader}
     * may be null (the file is then opened for reading); {@code writer} truncates.
     */
    private TailCut cutTornTail(FileChannel reader, FileChannel writer, long size, String when) throws IOException {
        if (size == 0) {
            return new TailCut(0, 0);
        }
        FileChannel r = reader != null ? reader : FileChannel.open(files.liveFile(), StandardOpenOption.READ);
        try {
            TailScanner.Result res = TailScanner.scan(r, size);
            if (res.goodEnd() == size) {
                return new TailCut(size, 0);
            }
            byte[] head = TailScanner.head(r, res.goodEnd(), PREVIEW_BYTES);
            writer.truncate(res.goodEnd());
            writer.force(true);
            tailRepairs.increment();
            LOG.warn("journal {}: cut a torn tail {}: {} bytes ({} line(s)) from offset {}; kept {} bytes of intact "
                            + "records; the cut bytes began: {}", files.liveFile(), when, size - res.goodEnd(),
                    res.linesCut(), res.goodEnd(), res.goodEnd(), TailScanner.printable(head));
            return new TailCut(res.goodEnd(), res.linesCut());
        } finally {
            if (reader == null) {
                r.close();
            }
        }
    }

    // ---------------------------------------------------------------- fsync and failure (no lock)

    /** The {@code interval:<d>} timer: forces the live journal if a write left it dirty. */
    void backgroundSync() {
        if (!dirty.getAndSet(false) || failure != null) {
            return;
        }
        try {
            syncLive();
        } catch (IOException | RuntimeException e) {
            fail(e);
        }
    }

    /** Whether a write since the last forced fsync left the file dirty; clears the flag. */
    boolean takeDirty() {
        return dirty.getAndSet(false);
    }

    /** Forces journal.wal (if present) and the directory. Takes no lock: it only flushes. */
    void syncLive() throws IOException {
        try {
            FileSync.fsyncFile(files.liveFile());
        } catch (NoSuchFileException rotated) {
            // Rotated meanwhile: the rotation fsynced it before the rename.
        }
        FileSync.fsyncDirectory(files.journalDir());
        syncs.increment();
    }

    /** Records a failed fsync: from now on this instance refuses appends. */
    void fail(Throwable e) {
        if (failure == null) {
            failure = e;
        }
        LOG.error("journal {}: fsync failed; this instance refuses further appends (reopen the journal). "
                + "Events acknowledged without a completed fsync may be lost on power failure", files.liveFile(), e);
    }

    /** The fsync failure after which this instance refuses appends, or null. */
    Throwable failure() {
        return failure;
    }

    private static Object fileKey(Path file) throws IOException {
        return Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).fileKey();
    }
}
