package dev.tally.store.dlq;

import dev.tally.store.ReadOnlyStoreException;
import dev.tally.store.RejectReason;
import dev.tally.store.StoreException;
import dev.tally.store.UsageStore;
import dev.tally.store.io.FileSync;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.HashSet;
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
 * <p><b>Classes.</b> This class keeps the entries in memory and decides what is added, kept and
 * given up on; {@link DeadLetterFile} reads and writes one file of lines, {@link DeadLetterCodec}
 * encodes one line (the on-disk format), and {@link ReplayRun} runs one replay pass.
 *
 * <p><b>Thread-safety.</b> Thread-safe: every public method holds one {@link ReentrantLock} (the
 * queue lock) for its whole body, including the store append during {@link #replay}; the lock
 * guards the in-memory entries, the broken flag and both files. Across
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
    private final DeadLetterFile queue;
    private final DeadLetterFile dead;

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
        this.queue = new DeadLetterFile(queueFile, readOnly);
        this.dead = new DeadLetterFile(deadFile, readOnly);
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
        for (DeadLetter e : queue.load()) {
            if (liveKeys.add(e.key())) {
                live.add(e);
            }
        }
        for (DeadLetter e : dead.load()) {
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
            appendDurably(queue, fresh);
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
            try {
                return dead.read();
            } catch (IOException | IllegalArgumentException e) {
                throw new StoreException("cannot read " + deadFile + ": " + e.getMessage(), e);
            }
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
            ReplayRun run = ReplayRun.run(live, store, clock.instant());
            ReplayReport report = settle(run.outcome(), run.stored(), run.duplicates());
            if (run.failure() != null) {
                throw run.failure();
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
            appendDurably(dead, newDead);
            deadKeys.addAll(newDeadKeys);
        }
        try {
            queue.rewrite(remaining);
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

    /**
     * Appends whole lines to {@code file} and forces them. A failed write is cut back to the old
     * end; a failed force marks the queue broken (the page cache's state is unknown after it).
     */
    private void appendDurably(DeadLetterFile file, List<DeadLetter> entries) {
        if (broken) {
            throw new StoreException("the dead-letter queue refuses writes after an earlier fsync failure; "
                    + "reopen it");
        }
        try {
            file.append(entries);
        } catch (DeadLetterFile.FsyncFailedException e) {
            broken = true;
            throw new StoreException(e.getMessage(), e.getCause());
        } catch (IOException e) {
            throw new StoreException("cannot append to " + file.path() + ": " + e.getMessage(), e);
        }
    }

    private void checkWritable(String operation) {
        if (readOnly) {
            throw new ReadOnlyStoreException(operation);
        }
    }
}
