package dev.tally.store.dlq;

import dev.tally.store.AppendResult;
import dev.tally.store.EventCodec;
import dev.tally.store.EventRejectedException;
import dev.tally.store.ReadOnlyStoreException;
import dev.tally.store.RejectReason;
import dev.tally.store.Rejection;
import dev.tally.store.StoreException;
import dev.tally.store.UsageEvent;
import dev.tally.store.UsageStore;
import dev.tally.store.io.FileSync;
import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The dead-letter queue: lines and events that could not be stored, kept durably so they can be
 * inspected, counted by reason and replayed.
 *
 * <pre>
 * dataDir/dlq/dead-letters.jsonl        the queue, one {@link DeadLetter} JSON line each
 * dataDir/dlq/dead/dead-letters.jsonl   entries given up on after {@code maxAttempts} tries
 * </pre>
 *
 * <p><b>Durability.</b> {@link #add} appends complete lines and forces them to the device before
 * it returns, so an importer may move its position past a bad line as soon as {@code add}
 * returned: a crash after that cannot lose the entry. A crash during {@code add} can leave a
 * torn last line; it was never acknowledged, and {@link #open} truncates it. A failed write is
 * cut back to the previous end of the file; a failed {@code fsync} (after which the kernel's view
 * of the file is unknown) makes the queue refuse every further write until it is opened again.
 * Rewrites ({@link #replay}) go through a temporary file that is forced and renamed over the
 * queue, and the directory is forced, so a crash leaves the old queue or the new one.
 *
 * <p><b>Idempotency.</b> An entry whose {@link DeadLetter#key() key} (source, offset, length,
 * digest of the kept bytes) is already queued or dead is not added again, so an import retried
 * after a crash does not queue the same bad line twice.
 *
 * <p><b>Read-only.</b> Opened {@code readOnly} (report-only), it creates, truncates and deletes
 * nothing, and every write method ({@link #add}, {@link #replay}) throws
 * {@link ReadOnlyStoreException}; a torn last line is then only left out of {@link #list()}.
 *
 * <p><b>Thread-safety.</b> Thread-safe: every public method holds one {@link ReentrantLock} (the
 * queue lock) for its whole body, including the store append during {@link #replay}. Across
 * processes it relies on the store's single-writer lock ({@code store.lock}) on the data
 * directory: only the process that owns the store may open the queue writable.
 */
public final class DeadLetterQueue {
    private static final Logger LOG = LoggerFactory.getLogger(DeadLetterQueue.class);

    /** The queue's directory under the data directory. */
    public static final String DLQ_DIR = "dlq";
    /** The directory, under {@link #DLQ_DIR}, of entries given up on. */
    public static final String DEAD_DIR = "dead";
    /** The file name of the queue and of the dead file. */
    public static final String QUEUE_FILE = "dead-letters.jsonl";
    /** Tries (the original one included) after which an entry moves to {@link #DEAD_DIR}. */
    public static final int DEFAULT_MAX_ATTEMPTS = 5;
    /** How many entries {@link #replay} appends to the store in one batch. */
    public static final int REPLAY_BATCH = 1_000;
    /** A queue line longer than this is damage, not an entry. */
    static final int MAX_ENTRY_LINE_BYTES = 16 << 20;

    private final ReentrantLock lock = new ReentrantLock();
    private final Path dlqDir;
    private final Path queueFile;
    private final Path deadDir;
    private final Path deadFile;
    private final boolean readOnly;
    private final int maxAttempts;

    // Guarded by lock.
    private final List<DeadLetter> live = new ArrayList<>();
    private final Set<String> liveKeys = new HashSet<>();
    private final Set<String> deadKeys = new HashSet<>();
    private boolean broken;

    private DeadLetterQueue(Path dataDir, boolean readOnly, int maxAttempts) {
        this.dlqDir = dataDir.resolve(DLQ_DIR);
        this.queueFile = dlqDir.resolve(QUEUE_FILE);
        this.deadDir = dlqDir.resolve(DEAD_DIR);
        this.deadFile = deadDir.resolve(QUEUE_FILE);
        this.readOnly = readOnly;
        this.maxAttempts = maxAttempts;
    }

    /** Opens the queue under {@code dataDir} with {@link #DEFAULT_MAX_ATTEMPTS}. */
    public static DeadLetterQueue open(Path dataDir, boolean readOnly) {
        return open(dataDir, readOnly, DEFAULT_MAX_ATTEMPTS);
    }

    /**
     * Opens the queue under {@code dataDir}, creating its directories unless {@code readOnly},
     * removing a temporary file a crash left and truncating a torn last line.
     *
     * @throws StoreException when a file cannot be read, or holds a complete line that is not an
     *                        entry (the queue is never guessed at: fix or move the file)
     */
    public static DeadLetterQueue open(Path dataDir, boolean readOnly, int maxAttempts) {
        if (maxAttempts < 1) {
            throw new IllegalArgumentException("maxAttempts = " + maxAttempts + " must be at least 1");
        }
        DeadLetterQueue q = new DeadLetterQueue(dataDir.toAbsolutePath().normalize(), readOnly, maxAttempts);
        try {
            q.load();
        } catch (IOException e) {
            throw new StoreException("cannot open the dead-letter queue in " + q.dlqDir + ": " + e.getMessage(), e);
        }
        return q;
    }

    private void load() throws IOException {
        if (!readOnly) {
            createDirectory(dlqDir);
            createDirectory(deadDir);
            for (Path f : List.of(queueFile, deadFile)) {
                Path tmp = f.resolveSibling(f.getFileName() + FileSync.TMP_SUFFIX);
                if (FileSync.deleteDurably(tmp)) {
                    LOG.info("removed {} left by an interrupted rewrite", tmp);
                }
            }
        }
        for (DeadLetter e : readEntries(queueFile)) {
            if (liveKeys.add(e.key())) {
                live.add(e);
            }
        }
        for (DeadLetter e : readEntries(deadFile)) {
            deadKeys.add(e.key());
        }
    }

    private void createDirectory(Path dir) throws IOException {
        if (Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        Files.createDirectories(dir);
        FileSync.fsyncDirectory(dir.getParent());
    }

    /** Reads every complete entry; truncates a torn last line unless read-only. */
    private List<DeadLetter> readEntries(Path file) throws IOException {
        List<DeadLetter> out = new ArrayList<>();
        long good = 0;
        long size;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS)) {
            size = ch.size();
            InputStream in = new BufferedInputStream(Channels.newInputStream(ch), 64 << 10);
            ByteArrayOutputStream line = new ByteArrayOutputStream(512);
            long pos = 0;
            long lineNo = 0;
            int b;
            while ((b = in.read()) >= 0) {
                pos++;
                if (b != '\n') {
                    if (line.size() >= MAX_ENTRY_LINE_BYTES) {
                        throw new IOException(file + " line " + (lineNo + 1) + " is longer than "
                                + MAX_ENTRY_LINE_BYTES + " bytes: the file is damaged");
                    }
                    line.write(b);
                    continue;
                }
                lineNo++;
                byte[] bytes = line.toByteArray();
                line.reset();
                good = pos;
                if (isBlank(bytes)) {
                    continue;
                }
                try {
                    out.add(DeadLetterCodec.decodeLine(bytes, 0, bytes.length));
                } catch (IllegalArgumentException e) {
                    throw new IOException(file + " line " + lineNo + " is not a dead-letter entry ("
                            + e.getMessage() + "): the file is damaged; move it aside to go on");
                }
            }
        } catch (NoSuchFileException e) {
            return out;
        }
        if (good < size) {
            if (readOnly) {
                LOG.warn("{} ends with a torn line of {} bytes (a write interrupted by a crash); "
                        + "left out, and left in place because the queue is read-only", file, size - good);
            } else {
                try (FileChannel ch = FileSync.open(file, StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS)) {
                    ch.truncate(good);
                    ch.force(true);
                }
                LOG.warn("{} ended with a torn line of {} bytes (a write interrupted by a crash, never "
                        + "acknowledged); truncated it at byte {}", file, size - good, good);
            }
        }
        return out;
    }

    private static boolean isBlank(byte[] b) {
        for (byte x : b) {
            if (x != ' ' && x != '\t' && x != '\r') {
                return false;
            }
        }
        return true;
    }

    /**
     * Whether an earlier fsync failed, after which this queue refuses every write until it is
     * opened again. The worker treats it as unrecoverable.
     */
    public boolean failed() {
        lock.lock();
        try {
            return broken;
        } finally {
            lock.unlock();
        }
    }

    /** Whether this queue refuses every write. */
    public boolean readOnly() {
        return readOnly;
    }

    /** The queue file. */
    public Path queueFile() {
        return queueFile;
    }

    /** The file of entries given up on. */
    public Path deadFile() {
        return deadFile;
    }

    /**
     * Appends entries to the queue and forces them to the device before returning. Entries whose
     * key is already queued or dead (or repeated in {@code entries}) are skipped.
     *
     * @return how many entries were added
     * @throws ReadOnlyStoreException when the queue is read-only
     * @throws StoreException         when the write or the fsync fails; nothing was acknowledged
     */
    public int add(List<DeadLetter> entries) {
        lock.lock();
        try {
            checkWritable("add dead letters");
            List<DeadLetter> fresh = new ArrayList<>(entries.size());
            List<String> keys = new ArrayList<>(entries.size());
            Set<String> batchKeys = new HashSet<>();
            for (DeadLetter e : entries) {
                String k = e.key();
                if (liveKeys.contains(k) || deadKeys.contains(k) || !batchKeys.add(k)) {
                    continue;
                }
                fresh.add(e);
                keys.add(k);
            }
            if (fresh.isEmpty()) {
                return 0;
            }
            appendDurably(queueFile, encode(fresh));
            live.addAll(fresh);
            liveKeys.addAll(keys);
            return fresh.size();
        } finally {
            lock.unlock();
        }
    }

    /** The queued entries, oldest first. */
    public List<DeadLetter> list() {
        lock.lock();
        try {
            return List.copyOf(live);
        } finally {
            lock.unlock();
        }
    }

    /** How many entries are queued. */
    public int size() {
        lock.lock();
        try {
            return live.size();
        } finally {
            lock.unlock();
        }
    }

    /** The entries given up on, read from the dead file (a torn last line is left out). */
    public List<DeadLetter> listDead() {
        lock.lock();
        try {
            List<DeadLetter> out = new ArrayList<>();
            try (FileChannel ch = FileChannel.open(deadFile, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS)) {
                InputStream in = new BufferedInputStream(Channels.newInputStream(ch), 64 << 10);
                ByteArrayOutputStream line = new ByteArrayOutputStream(512);
                int b;
                while ((b = in.read()) >= 0) {
                    if (b != '\n') {
                        line.write(b);
                        continue;
                    }
                    byte[] bytes = line.toByteArray();
                    line.reset();
                    if (!isBlank(bytes)) {
                        out.add(DeadLetterCodec.decodeLine(bytes, 0, bytes.length));
                    }
                }
            } catch (NoSuchFileException e) {
                return out;
            } catch (IOException | IllegalArgumentException e) {
                throw new StoreException("cannot read " + deadFile + ": " + e.getMessage(), e);
            }
            return out;
        } finally {
            lock.unlock();
        }
    }

    /** How many queued entries there are per reason, in {@link RejectReason} order. */
    public Map<RejectReason, Long> countsByReason() {
        lock.lock();
        try {
            Map<RejectReason, Long> counts = new EnumMap<>(RejectReason.class);
            for (DeadLetter e : live) {
                counts.merge(e.reason(), 1L, Long::sum);
            }
            return Collections.unmodifiableMap(counts);
        } finally {
            lock.unlock();
        }
    }

    /**
     * Tries every queued entry again: re-parses its original line and appends the event to
     * {@code store}, in batches of {@value #REPLAY_BATCH}. An entry whose event is stored, or was
     * already stored (a duplicate), leaves the queue. One still refused gets one more attempt
     * with its new reason; one that reaches {@code maxAttempts} moves to the dead file (forced
     * before the queue is rewritten, so a crash in between only leaves a copy in both places,
     * which the next replay resolves). The queue is rewritten atomically once at the end, and also
     * when a store append fails (the entries of earlier batches are settled, then the failure is
     * rethrown; the failed batch keeps its entries unchanged).
     *
     * <p>Replaying after a crash is safe: an event stored but still queued comes back as a
     * duplicate and leaves the queue then.
     *
     * @throws ReadOnlyStoreException when the queue is read-only
     * @throws StoreException         when the store or a file write fails
     */
    public ReplayReport replay(UsageStore store, Clock clock) {
        lock.lock();
        try {
            checkWritable("replay dead letters");
            Instant now = clock.instant();
            Map<Integer, DeadLetter> outcome = new LinkedHashMap<>(); // index -> updated entry, or null = settled
            int stored = 0;
            int duplicates = 0;
            StoreException failure = null;
            for (int from = 0; from < live.size(); from += REPLAY_BATCH) {
                int to = Math.min(live.size(), from + REPLAY_BATCH);
                List<UsageEvent> events = new ArrayList<>();
                List<Integer> eventEntry = new ArrayList<>();
                Map<Integer, DeadLetter> batchOutcome = new LinkedHashMap<>();
                for (int i = from; i < to; i++) {
                    DeadLetter e = live.get(i);
                    if (e.truncated()) {
                        batchOutcome.put(i, e.failedAgain(e.reason(), e.message(), now));
                        continue;
                    }
                    byte[] original = e.originalBytes();
                    try {
                        events.add(EventCodec.parse(original, 0, original.length));
                        eventEntry.add(i);
                    } catch (EventRejectedException ex) {
                        batchOutcome.put(i, e.failedAgain(ex.reason(), ex.getMessage(), now));
                    }
                }
                if (!events.isEmpty()) {
                    AppendResult r;
                    try {
                        r = store.append(events);
                    } catch (StoreException ex) {
                        failure = ex;
                        break;
                    }
                    stored += r.accepted();
                    duplicates += r.duplicates();
                    Set<Integer> refused = new HashSet<>();
                    for (Rejection rej : r.rejected()) {
                        if (rej.index() < 0 || rej.index() >= eventEntry.size()) {
                            LOG.warn("the store reported a rejection at index {} of a batch of {}; ignored",
                                    rej.index(), eventEntry.size());
                            continue;
                        }
                        int i = eventEntry.get(rej.index());
                        refused.add(i);
                        batchOutcome.put(i, live.get(i).failedAgain(rej.reason(), rej.message(), now));
                    }
                    for (int i : eventEntry) {
                        if (!refused.contains(i)) {
                            batchOutcome.put(i, null);
                        }
                    }
                }
                outcome.putAll(batchOutcome);
            }
            ReplayReport report = settle(outcome, stored, duplicates);
            if (failure != null) {
                throw failure;
            }
            return report;
        } finally {
            lock.unlock();
        }
    }

    /** Applies replay outcomes: dead entries first (forced), then the queue rewrite. */
    private ReplayReport settle(Map<Integer, DeadLetter> outcome, int stored, int duplicates) {
        if (outcome.isEmpty()) {
            return new ReplayReport(0, 0, 0, 0, 0);
        }
        List<DeadLetter> remaining = new ArrayList<>(live.size());
        List<DeadLetter> toDead = new ArrayList<>();
        int settled = 0;
        int stillFailing = 0;
        for (int i = 0; i < live.size(); i++) {
            if (!outcome.containsKey(i)) {
                remaining.add(live.get(i));
                continue;
            }
            DeadLetter updated = outcome.get(i);
            if (updated == null) {
                settled++;
            } else if (updated.attempts() >= maxAttempts) {
                toDead.add(updated);
            } else {
                stillFailing++;
                remaining.add(updated);
            }
        }
        List<DeadLetter> newDead = new ArrayList<>();
        List<String> newDeadKeys = new ArrayList<>();
        for (DeadLetter e : toDead) {
            String k = e.key();
            if (!deadKeys.contains(k) && !newDeadKeys.contains(k)) {
                newDead.add(e);
                newDeadKeys.add(k);
            }
        }
        if (!newDead.isEmpty()) {
            appendDurably(deadFile, encode(newDead));
            deadKeys.addAll(newDeadKeys);
        }
        try {
            FileSync.writeAtomically(queueFile, encode(remaining));
        } catch (IOException e) {
            throw new StoreException("cannot rewrite " + queueFile + ": " + e.getMessage(), e);
        }
        live.clear();
        live.addAll(remaining);
        liveKeys.clear();
        for (DeadLetter e : remaining) {
            liveKeys.add(e.key());
        }
        for (DeadLetter e : toDead) {
            LOG.warn("dead letter from {} at byte {} gave up after {} attempts: {} {}", e.source(), e.offset(),
                    e.attempts(), e.reason().code(), e.message());
        }
        return new ReplayReport(outcome.size(), stored, duplicates, stillFailing, toDead.size());
    }

    private static byte[] encode(List<DeadLetter> entries) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (DeadLetter e : entries) {
            out.writeBytes(DeadLetterCodec.encodeLine(e));
        }
        return out.toByteArray();
    }

    /**
     * Appends whole lines to {@code file} and forces them. A failed write is cut back to the old
     * end; a failed force marks the queue broken (the page cache's state is unknown after it).
     */
    private void appendDurably(Path file, byte[] bytes) {
        if (broken) {
            throw new StoreException("the dead-letter queue refuses writes after an earlier fsync failure; "
                    + "reopen it");
        }
        boolean existed = Files.exists(file, LinkOption.NOFOLLOW_LINKS);
        try (FileChannel ch = FileSync.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                LinkOption.NOFOLLOW_LINKS)) {
            long before = ch.size();
            try {
                ByteBuffer buf = ByteBuffer.wrap(bytes);
                long pos = before;
                while (buf.hasRemaining()) {
                    pos += ch.write(buf, pos);
                }
            } catch (IOException e) {
                try {
                    ch.truncate(before);
                    ch.force(true);
                } catch (IOException again) {
                    broken = true;
                    e.addSuppressed(again);
                }
                throw e;
            }
            try {
                ch.force(true);
            } catch (IOException e) {
                broken = true;
                throw e;
            }
        } catch (IOException e) {
            throw new StoreException("cannot append to " + file + ": " + e.getMessage(), e);
        }
        if (!existed) {
            try {
                FileSync.fsyncDirectory(file.getParent());
            } catch (IOException e) {
                broken = true;
                throw new StoreException("cannot fsync " + file.getParent() + ": " + e.getMessage(), e);
            }
        }
    }

    private void checkWritable(String operation) {
        if (readOnly) {
            throw new ReadOnlyStoreException(operation);
        }
    }
}
