package dev.tally.store.internal;

import dev.tally.store.io.FileSync;
import dev.tally.store.io.ProcessLocks;
import dev.tally.store.engine.Engine;
import dev.tally.store.engine.TimeUtil;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.tally.store.AppendResult;
import dev.tally.store.EventRejectedException;
import dev.tally.store.EngineErrors;
import dev.tally.store.EventRules;
import dev.tally.store.ImportPosition;
import dev.tally.store.ReadOnlyStoreException;
import dev.tally.store.Rejection;
import dev.tally.store.RejectionSink;
import dev.tally.store.RetentionReason;
import dev.tally.store.RetentionReport;
import dev.tally.store.SegmentInfo;
import dev.tally.store.StoreConfig;
import dev.tally.store.StoreException;
import dev.tally.store.Totals;
import dev.tally.store.UsageEvent;
import dev.tally.store.UsageStore;
import dev.tally.store.ValidEvent;
import java.io.IOException;
import java.math.BigDecimal;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.StandardOpenOption;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReentrantLock;
import java.util.regex.Pattern;
import org.duckdb.DuckDBConnection;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The tiered store: one active DuckDB segment receiving appends, pending segments being sealed,
 * and published Parquet parts, kept consistent by the locks below.
 *
 * <p><b>Lock order</b> (a thread holding a lock may only take locks to its right):
 * {@code maintenanceLock -> writeGate -> stateLock -> a DedupIndex shard lock}.
 * <ul>
 *   <li>{@code writeGate} (fair): held by append for its whole body, and by rollover of the active
 *       segment (size, age, expiry, close). Never by sealing, part deletion or reads.</li>
 *   <li>{@code maintenanceLock}: serializes seal, retention and orphan cleanup; guards
 *       {@code manifest} writes.</li>
 *   <li>{@code stateLock}: guards publication of a new {@link TierView}, {@code pending} and
 *       {@code parts}; held only for in-memory swaps, never across I/O.</li>
 * </ul>
 * Reads take none of them: they pin the current {@link TierView}.
 *
 * <p>Thread-safe.
 */
public final class TieredStore implements UsageStore {
    private static final Logger log = LoggerFactory.getLogger(TieredStore.class);
    private static final Pattern VALUE_PATH = Pattern.compile("\\$(\\.[A-Za-z_][A-Za-z0-9_]*|\\[\"[^\"\\\\]+\"\\])+");

    /** Test hooks; production uses {@link #DEFAULT_HOOKS}. */
    record Hooks(AppendSeam seam, Lock writeGate, CrashPoint crash) {
        Hooks withSeam(AppendSeam s) {
            return new Hooks(s, writeGate, crash);
        }

        Hooks withGate(Lock g) {
            return new Hooks(seam, g, crash);
        }

        Hooks withCrash(CrashPoint c) {
            return new Hooks(seam, writeGate, c);
        }
    }

    static final Hooks DEFAULT_HOOKS = new Hooks(AppendSeam.NONE, null, CrashPoint.NONE);

    private final StoreConfig config;
    private final SegmentFiles files;
    private final Engine engine;
    private final EventRules rules;
    private final RetentionPolicy policy;
    private final Sealer sealer;
    private final Compactor compactor;
    private final DedupIndex dedup;
    private final Cache<PartQueryKey, Totals> partCache;
    private final AppendSeam seam;
    private final CrashPoint crash;
    private final Lock writeGate;
    private final ReentrantLock maintenanceLock = new ReentrantLock();
    private final Object stateLock = new Object();
    private final Executor sealExecutor;
    private final ExecutorService ownedExecutor;
    private final FileChannel lockChannel;
    private final FileLock storeLock;
    /** Run once after close (a snapshot's copy is deleted there). */
    private final List<Runnable> closeActions = new java.util.concurrent.CopyOnWriteArrayList<>();
    private final AtomicBoolean sealScheduled = new AtomicBoolean();
    /** Files retired but still pinned by readers: not orphans, whatever their age. */
    private final Set<java.nio.file.Path> draining = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private final StoreMetrics metrics = new StoreMetrics();
    /** Corrections: their own record and lock; see {@link dev.tally.store.correct.CorrectionLog}. */
    private final dev.tally.store.correct.CorrectionLog corrections;
    private final dev.tally.store.correct.Corrector corrector;
    /** Told of each part retention or compaction deleted, after its last reader let go; see {@link #onPartDeleted}. */
    private final List<java.util.function.Consumer<SealedPart>> partDeletedListeners =
            new java.util.concurrent.CopyOnWriteArrayList<>();

    // Guarded by writeGate.
    private final ActiveWriter writer;
    private long nextSeq;
    private volatile SegmentHandle active;
    private volatile boolean closed;

    // Guarded by maintenanceLock (writes); read under stateLock or through a view.
    private volatile Manifest manifest;

    // Guarded by stateLock.
    private final List<SegmentHandle> pending = new ArrayList<>();
    private final Map<String, PartHandle> parts = new HashMap<>();
    private volatile TierView view;

    private TieredStore(StoreConfig config, Executor sealExecutor, Hooks hooks, FileChannel lockChannel,
            FileLock storeLock) throws SQLException {
        this.config = config;
        this.files = new SegmentFiles(config.dataDir());
        this.engine = new Engine();
        this.rules = EventRules.of(config);
        this.policy = new RetentionPolicy(config);
        this.crash = hooks.crash();
        this.sealer = new Sealer(engine, files, crash);
        this.compactor = new Compactor(engine, files, crash);
        this.dedup = new DedupIndex(1 << 16);
        this.partCache = Caffeine.newBuilder().maximumSize(config.segmentCacheEntries()).build();
        this.seam = hooks.seam();
        this.writeGate = hooks.writeGate() != null ? hooks.writeGate() : new ReentrantLock(true);
        if (sealExecutor != null) {
            this.sealExecutor = sealExecutor;
            this.ownedExecutor = null;
        } else {
            this.ownedExecutor = Executors.newSingleThreadExecutor(r -> {
                Thread t = new Thread(r, "tally-sealer");
                t.setDaemon(true);
                return t;
            });
            this.sealExecutor = ownedExecutor;
        }
        this.lockChannel = lockChannel;
        this.storeLock = storeLock;
        this.writer = new ActiveWriter(engine, files);
        this.corrections = new dev.tally.store.correct.CorrectionLog(engine, config.dataDir(), config.readOnly());
        this.corrector = new dev.tally.store.correct.Corrector(this, corrections, config.clock(), crash);
    }

    /** Opens (creating if needed) the store in {@code config.dataDir()}, running recovery. */
    public static TieredStore open(StoreConfig config, Executor sealExecutor) {
        return open(config, sealExecutor, DEFAULT_HOOKS);
    }

    static TieredStore open(StoreConfig config, Executor sealExecutor, Hooks hooks) {
        SegmentFiles files = new SegmentFiles(config.dataDir());
        FileChannel channel = null;
        FileLock lock = null;
        TieredStore store = null;
        boolean claimed = false;
        try {
            if (!config.readOnly()) {
                Files.createDirectories(files.segmentsDir());
                Files.createDirectories(files.archiveDir());
                Files.createDirectories(files.rollupsDir());
                if (!ProcessLocks.claim(files.lockFile())) {
                    throw alreadyOpen(config, files, "another store instance in this process");
                }
                claimed = true;
                channel = FileChannel.open(files.lockFile(), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                try {
                    lock = channel.tryLock();
                } catch (OverlappingFileLockException e) {
                    lock = null;
                }
                if (lock == null) {
                    throw alreadyOpen(config, files, "another process");
                }
            } else if (!Files.isDirectory(config.dataDir())) {
                throw new StoreException("no store at " + config.dataDir() + " to open report-only");
            }
            store = new TieredStore(config, sealExecutor, hooks, channel, lock);
            store.recover();
            return store;
        } catch (IOException | SQLException | RuntimeException e) {
            if (store != null) {
                store.closeQuietly();
            } else {
                releaseLock(lock, channel);
            }
            if (claimed && (store == null || e instanceof StoreException)) {
                ProcessLocks.release(files.lockFile());
            }
            if (e instanceof StoreException se) {
                throw se;
            }
            throw new StoreException("cannot open the store in " + config.dataDir() + ": " + e.getMessage(), e);
        }
    }

    private static StoreException alreadyOpen(StoreConfig config, SegmentFiles files, String byWhom) {
        return new StoreException("the store in " + config.dataDir() + " is already open for writing by " + byWhom
                + " (" + files.lockFile() + " is locked). Stop it first; to read while it runs, use its HTTP API "
                + "or `usage-worker verify`, which read a snapshot");
    }

    private void recover() throws IOException, SQLException {
        Instant now = config.clock().instant();
        StoreLoader.Loaded loaded = new StoreLoader(files, engine, writer, config.readOnly()).load(now);
        corrections.open();
        manifest = loaded.manifest();
        nextSeq = loaded.nextSeq();
        active = loaded.active();
        synchronized (stateLock) {
            for (SealedPart p : manifest.parts()) {
                parts.put(p.path(), new PartHandle(p, FileSync.resolveInside(files.root(), p.path())));
            }
            pending.addAll(loaded.pending());
            publishLocked();
        }
        if (!config.readOnly()) {
            maintenanceLock.lock();
            try {
                sealPendingLocked();
            } finally {
                maintenanceLock.unlock();
            }
        }
        rebuildDedupIndex();
        log.info("opened store {}: active segment {} ({} rows), {} sealed parts, {} ids indexed", config.dataDir(),
                active == null ? "-" : active.seq(), active == null ? 0 : active.rows(), manifest.parts().size(),
                dedup.size());
    }

    /**
     * Pass 8 of recovery: every stored key hash, mapped to the segment that holds it. Sealed
     * detail is read from the parts' key sidecars ({@link KeysFile}, 8 bytes an event, in
     * parallel); only a part whose sidecar is missing or damaged is read through the engine, and
     * its sidecar is written again. Live segments are read from DuckDB (at most a few segments).
     * A report-only store refuses appends, so it builds no index.
     */
    private void rebuildDedupIndex() throws SQLException, IOException {
        if (config.readOnly()) {
            return;
        }
        long started = System.nanoTime();
        TierView v = acquireView();
        try {
            List<SealedPart> detail = v.manifest().parts(PartKind.DETAIL);
            long total = 0;
            for (SealedPart p : detail) {
                total += p.rows();
            }
            for (SegmentHandle h : v.segments()) {
                total += h.rows();
            }
            dedup.reserve(total);
            List<SealedPart> missing = loadSidecars(v, detail);
            // A statement per read: the driver closes one whose query failed.
            for (SealedPart p : missing) {
                PartHandle h = v.part(p.path());
                long[] keys;
                try (Statement s = writer.connection().createStatement()) {
                    keys = readHashes(s, parquetSource(List.of(h)), p.rows());
                } catch (SQLException e) {
                    // A damaged part must not keep the store from opening: it is quarantined, as
                    // a read that finds it would, and its events are reported lost there.
                    String problem = Quarantine.contentProblem(files, p);
                    if (problem == null) {
                        throw e;
                    }
                    log.error("damaged archive part {} ({} rows {}..{}) found while rebuilding the dedup index: {}",
                            p.path(), p.rows(), p.minTime(), p.maxTime(), problem);
                    quarantine(p, problem);
                    continue;
                }
                dedup.putAll(keys, keys.length, p.seq());
                KeysFile.write(KeysFile.of(h.file()), p.seq(), keys, keys.length);
                log.info("rewrote the key sidecar of {} ({} keys): it was missing or damaged", p.path(),
                        keys.length);
            }
            for (SegmentHandle h : v.segments()) {
                try (Statement s = writer.connection().createStatement()) {
                    long[] keys = readHashes(s, h.eventsTable(), h.rows());
                    dedup.putAll(keys, keys.length, h.seq());
                }
            }
            log.info("dedup index: {} ids of {} sealed parts and {} segments in {} ms ({} parts read without a "
                    + "sidecar), {} MiB", dedup.size(), detail.size(), v.segments().size(),
                    (System.nanoTime() - started) / 1_000_000, missing.size(), dedup.memoryBytes() >> 20);
        } finally {
            v.release();
        }
    }

    /** Loads every readable sidecar, one task per part over the cores; returns the parts without one. */
    private List<SealedPart> loadSidecars(TierView v, List<SealedPart> detail) throws IOException {
        List<SealedPart> missing = java.util.Collections.synchronizedList(new ArrayList<>());
        int threads = Math.max(1, Math.min(detail.size(), Runtime.getRuntime().availableProcessors()));
        ExecutorService pool = Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, "tally-dedup-load");
            t.setDaemon(true);
            return t;
        });
        try {
            List<java.util.concurrent.Future<?>> done = new ArrayList<>();
            for (SealedPart p : detail) {
                java.nio.file.Path file = KeysFile.of(v.part(p.path()).file());
                done.add(pool.submit(() -> {
                    // In chunks: a compacted week of a large store holds hundreds of millions of keys.
                    if (!KeysFile.stream(file, p.seq(), p.rows(), (keys, n) -> dedup.putAll(keys, n, p.seq()))) {
                        missing.add(p);
                    }
                    return null;
                }));
            }
            for (var f : done) {
                f.get();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while loading the dedup index", e);
        } catch (java.util.concurrent.ExecutionException e) {
            throw e.getCause() instanceof IOException io ? io
                    : new IOException("loading a key sidecar failed: " + e.getCause(), e.getCause());
        } finally {
            pool.shutdownNow();
        }
        return missing;
    }

    private static long[] readHashes(Statement s, String source, long rows) throws SQLException {
        long[] keys = new long[Math.toIntExact(rows)];
        int n = 0;
        try (ResultSet rs = s.executeQuery("SELECT key_hash FROM " + source)) {
            while (rs.next()) {
                if (n == keys.length) {
                    keys = java.util.Arrays.copyOf(keys, Math.max(16, n * 2));
                }
                keys[n++] = rs.getLong(1);
            }
        }
        return n == keys.length ? keys : java.util.Arrays.copyOf(keys, n);
    }

    // ---------------------------------------------------------------- append

    @Override
    public AppendResult append(List<UsageEvent> events) {
        return append(events, null);
    }

    @Override
    public AppendResult append(List<UsageEvent> events, ImportPosition position) {
        return append(events, position, RejectionSink.NONE);
    }

    @Override
    public AppendResult append(List<UsageEvent> events, ImportPosition position, RejectionSink beforeCommit) {
        return append(events.size(), (i, now) -> rules.validate(events.get(i), now).event(),
                i -> events.get(i) == null ? null : events.get(i).id(), position, beforeCommit);
    }

    @Override
    public AppendResult appendValid(List<ValidEvent> events, ImportPosition position, RejectionSink beforeCommit) {
        // Validated once already: only the time bounds depend on this store's clock.
        return append(events.size(), (i, now) -> {
            ValidEvent v = events.get(i);
            rules.checkTime(v.time(), now);
            return v.event();
        }, i -> events.get(i).id(), position, beforeCommit);
    }

    /** Checks the i-th event of a batch against {@code now} and returns it in stored form. */
    @FunctionalInterface
    private interface Check {
        UsageEvent apply(int index, Instant now) throws EventRejectedException;
    }

    private AppendResult append(int size, Check check, java.util.function.IntFunction<String> idOf,
            ImportPosition position, RejectionSink beforeCommit) {
        checkWritable("append");
        Instant now = config.clock().instant();
        List<Rejection> rejected = new ArrayList<>();
        // Validation is pure CPU: done before taking the gate.
        List<StoredEvent> unique = new ArrayList<>(size);
        HashMap<Long, StoredEvent> byHash = new HashMap<>(size * 2);
        Set<String> collided = null;
        int inBatchDuplicates = 0;
        for (int i = 0; i < size; i++) {
            try {
                UsageEvent v = check.apply(i, now);
                StoredEvent se = new StoredEvent(i, v, KeyHash.of(v.tenant(), v.id()), TimeUtil.toMicros(v.time()));
                StoredEvent first = byHash.putIfAbsent(se.keyHash(), se);
                if (first == null) {
                    unique.add(se);
                } else if (first.key().equals(se.key())) {
                    inBatchDuplicates++;
                } else {
                    // Two different ids with one 64-bit hash in one batch: compare the real keys.
                    if (collided == null) {
                        collided = new HashSet<>();
                        for (StoredEvent u : unique) {
                            collided.add(u.key());
                        }
                    }
                    if (collided.add(se.key())) {
                        unique.add(se);
                    } else {
                        inBatchDuplicates++;
                    }
                }
                if (collided != null && first == null) {
                    collided.add(se.key());
                }
            } catch (EventRejectedException ex) {
                rejected.add(new Rejection(i, idOf.apply(i), ex.reason(), ex.getMessage()));
            }
        }
        try {
            // Outside the gate: the sink may take its own locks (a dead-letter queue's), and
            // the gate must never be held while waiting for another lock of unknown order.
            beforeCommit.accept(rejected);
        } catch (IOException e) {
            throw new StoreException("the refused events of this batch could not be recorded; nothing was stored: "
                    + e.getMessage(), e);
        }
        boolean sealNeeded = false;
        long waitStart = System.nanoTime();
        writeGate.lock();
        try {
            metrics.gateWaitNanos.add(System.nanoTime() - waitStart);
            checkWritable("append");
            List<StoredEvent> fresh = seam.mutations().contains(Mutation.NO_DEDUP_CHECK) ? unique : withoutStored(unique);
            int duplicates = inBatchDuplicates + unique.size() - fresh.size();
            if (fresh.isEmpty() && position == null) {
                return record(new AppendResult(0, duplicates, rejected));
            }
            SegmentHandle seg = active;
            seam.segmentChosen(seg.seq());
            try {
                writer.append(seg, fresh, position, seam, now);
            } catch (SQLException e) {
                throw new StoreException("append of " + fresh.size() + " events to segment " + seg.seq()
                        + " failed and stored nothing: " + e.getMessage(), e);
            }
            // Only now, after the commit, are the ids seen: a failed write marks nothing.
            long[] hashes = new long[fresh.size()];
            long min = Long.MAX_VALUE;
            long max = Long.MIN_VALUE;
            for (int i = 0; i < hashes.length; i++) {
                StoredEvent se = fresh.get(i);
                hashes[i] = se.keyHash();
                min = Math.min(min, se.timeMicros());
                max = Math.max(max, se.timeMicros());
            }
            dedup.putAll(hashes, hashes.length, seg.seq());
            seg.recordAppend(hashes.length, min, max);
            if (seg.grownBytes() >= config.maxSegmentBytes()) {
                rolloverLocked("grew by maxSegmentBytes (" + config.maxSegmentBytes() + " bytes)");
                sealNeeded = true;
            }
            return record(new AppendResult(fresh.size(), duplicates, rejected));
        } finally {
            writeGate.unlock();
            if (sealNeeded) {
                scheduleSeal();
            }
        }
    }

    private AppendResult record(AppendResult r) {
        metrics.accepted.add(r.accepted());
        metrics.duplicates.add(r.duplicates());
        r.rejected().forEach(x -> metrics.countRejected(x.reason()));
        return r;
    }

    /**
     * Drops the events already stored in any tier. A dedup-index hit is a candidate only; it is
     * confirmed by reading tenant and id from the one segment (or its parts) the index names.
     * Caller holds the write gate, so the active segment cannot change meanwhile.
     */
    private List<StoredEvent> withoutStored(List<StoredEvent> batch) {
        Map<Long, List<StoredEvent>> bySeq = new HashMap<>();
        List<StoredEvent> ambiguous = new ArrayList<>();
        for (StoredEvent se : batch) {
            long seq = dedup.get(se.keyHash());
            if (seq == DedupIndex.AMBIGUOUS) {
                ambiguous.add(se);
            } else if (seq != DedupIndex.ABSENT) {
                bySeq.computeIfAbsent(seq, k -> new ArrayList<>()).add(se);
            }
        }
        if (bySeq.isEmpty() && ambiguous.isEmpty()) {
            return batch;
        }
        Set<String> stored = new HashSet<>();
        TierView v = acquireView();
        try {
            for (var e : bySeq.entrySet()) {
                for (String source : sourcesOf(v, e.getKey())) {
                    stored.addAll(findKeys(source, e.getValue()));
                }
            }
            if (!ambiguous.isEmpty()) {
                for (SegmentHandle h : v.segments()) {
                    stored.addAll(findKeys(h.eventsTable(), ambiguous));
                }
                List<PartHandle> all = v.parts(PartKind.DETAIL, Instant.MIN, Instant.MAX);
                if (!all.isEmpty()) {
                    stored.addAll(findKeys(parquetSource(all), ambiguous));
                }
            }
        } catch (SQLException e) {
            throw new StoreException("duplicate check failed, nothing was stored: " + e.getMessage(), e);
        } finally {
            v.release();
        }
        if (stored.isEmpty()) {
            return batch;
        }
        List<StoredEvent> out = new ArrayList<>(batch.size());
        for (StoredEvent se : batch) {
            if (!stored.contains(se.key())) {
                out.add(se);
            }
        }
        return out;
    }

    private static List<String> sourcesOf(TierView v, long seq) {
        SegmentHandle h = v.segment(seq);
        if (h != null) {
            return List.of(h.eventsTable());
        }
        List<PartHandle> detail = v.detailParts(seq);
        return detail.isEmpty() ? List.of() : List.of(parquetSource(detail));
    }

    private Set<String> findKeys(String source, List<StoredEvent> candidates) throws SQLException {
        StringBuilder in = new StringBuilder();
        for (StoredEvent se : candidates) {
            if (!in.isEmpty()) {
                in.append(',');
            }
            in.append(se.keyHash());
        }
        Set<String> found = new HashSet<>();
        try (Statement s = writer.connection().createStatement();
                ResultSet rs = s.executeQuery("SELECT tenant, id FROM " + source + " WHERE key_hash IN (" + in + ")")) {
            while (rs.next()) {
                found.add(rs.getString(1) + '\0' + rs.getString(2));
            }
        }
        return found;
    }

    static String parquetSource(List<PartHandle> handles) {
        return parquetSource(handles, "");
    }

    /** {@code read_parquet([...]<options>)} over the handles' files. */
    static String parquetSource(List<PartHandle> handles, String options) {
        StringBuilder sb = new StringBuilder("read_parquet([");
        for (int i = 0; i < handles.size(); i++) {
            if (i > 0) {
                sb.append(", ");
            }
            sb.append(Engine.literal(handles.get(i).file()));
        }
        return sb.append(']').append(options).append(')').toString();
    }

    // ---------------------------------------------------------------- rollover and seal

    /**
     * Swaps in a fresh active segment. Caller holds the write gate, so no append is between its
     * write and its commit on the old segment: the old segment's rows are final once this runs.
     */
    private void rolloverLocked(String reason) {
        SegmentHandle old = active;
        Instant now = config.clock().instant();
        long oldest = oldestSeqWithRows();
        if (nextSeq - oldest >= DedupIndex.SEQ_SPAN) {
            // The dedup index tells apart SEQ_SPAN consecutive segments; rolling past that would
            // alias the oldest segment's ids. Keep appending to this segment instead.
            log.error("rollover of segment {} refused ({}): the store still holds rows of segment {}, and the dedup "
                    + "index tells apart at most {} consecutive segments; run retention", old.seq(), reason, oldest,
                    DedupIndex.SEQ_SPAN);
            return;
        }
        try {
            writer.checkpoint(old);
            crash.at(CrashPoint.ROLLOVER_CHECKPOINTED);
            SegmentHandle fresh = writer.createSegment(nextSeq, old, now);
            nextSeq++;
            crash.at(CrashPoint.ROLLOVER_CREATED);
            synchronized (stateLock) {
                pending.add(old);
                active = fresh;
                publishLocked();
            }
            log.info("rolled segment {} ({} rows, {} bytes): {}; segment {} is now active", old.seq(), old.rows(),
                    old.bytesOnDisk(), reason, fresh.seq());
        } catch (SQLException | IOException e) {
            throw new StoreException("rollover of segment " + old.seq() + " failed (" + reason
                    + "); it stays active: " + e.getMessage(), e);
        }
    }

    private long oldestSeqWithRows() {
        long oldest = active.seq();
        synchronized (stateLock) {
            for (SegmentHandle h : pending) {
                oldest = Math.min(oldest, h.seq());
            }
        }
        for (SealedPart p : manifest.parts(PartKind.DETAIL)) {
            oldest = Math.min(oldest, p.minSeq());
        }
        return oldest;
    }

    /** Rolls the active segment under the gate if it holds rows. Package-private for tests. */
    boolean rollover(String reason) {
        checkWritable("rollover");
        writeGate.lock();
        try {
            checkWritable("rollover");
            if (active.rows() == 0) {
                return false;
            }
            rolloverLocked(reason);
            return true;
        } finally {
            writeGate.unlock();
        }
    }

    private void scheduleSeal() {
        if (sealScheduled.compareAndSet(false, true)) {
            try {
                sealExecutor.execute(() -> {
                    sealScheduled.set(false);
                    try {
                        sealPending();
                    } catch (RuntimeException e) {
                        log.error("sealing failed; the segments stay pending and are retried by the next "
                                + "maintenance pass: {}", e.getMessage(), e);
                    }
                });
            } catch (java.util.concurrent.RejectedExecutionException e) {
                sealScheduled.set(false);
            }
        }
    }

    /** Seals every pending segment, oldest first. */
    public void sealPending() {
        checkWritable("seal");
        maintenanceLock.lock();
        try {
            if (!closed) {
                sealPendingLocked();
            }
        } finally {
            maintenanceLock.unlock();
        }
    }

    private void sealPendingLocked() {
        for (;;) {
            SegmentHandle next;
            synchronized (stateLock) {
                next = pending.stream().min((a, b) -> Long.compare(a.seq(), b.seq())).orElse(null);
            }
            if (next == null) {
                return;
            }
            sealOneLocked(next);
        }
    }

    private void sealOneLocked(SegmentHandle seg) {
        long start = System.nanoTime();
        Instant now = config.clock().instant();
        List<SealedPart> sealed;
        try {
            sealed = sealer.seal(seg, policy.detailCutoff(now));
            crash.at(CrashPoint.SEAL_PARTS_RENAMED);
            Manifest next = manifest.withParts(seg.seq(), sealed);
            next.write(files.manifest());
            manifest = next;
            crash.at(CrashPoint.SEAL_PUBLISHED);
        } catch (SQLException | IOException e) {
            throw new StoreException("sealing segment " + seg.seq() + " failed; it stays pending: " + e.getMessage(), e);
        }
        synchronized (stateLock) {
            for (SealedPart p : sealed) {
                parts.put(p.path(), new PartHandle(p, FileSync.resolveInside(files.root(), p.path())));
            }
            pending.remove(seg);
            publishLocked();
        }
        draining.add(seg.file());
        seg.retire(SegmentHandle.Disposal.DELETE, "sealed into " + sealed.size() + " parts",
                () -> draining.remove(seg.file()));
        metrics.sealNanos.add(System.nanoTime() - start);
        metrics.seals.increment();
        log.info("sealed segment {}: {} rows into {} parts in {} ms", seg.seq(), seg.rows(), sealed.size(),
                (System.nanoTime() - start) / 1_000_000);
    }

    @Override
    public void sealNow() {
        checkWritable("seal");
        maintenanceLock.lock();
        try {
            rollover("seal requested");
            sealPendingLocked();
        } finally {
            maintenanceLock.unlock();
        }
    }

    // ---------------------------------------------------------------- retention

    @Override
    public RetentionReport maintain() {
        checkWritable("maintain");
        maintenanceLock.lock();
        try {
            Instant now = config.clock().instant();
            if (policy.activeAged(active, now) && !policy.activeExpired(active, now)) {
                rollover("older than maxSegmentAge (" + config.maxSegmentAge() + ")");
            }
            sealPendingLocked();
            RetentionReport report = retentionLocked(false);
            try {
                compactLocked(now.minus(config.compactAfter()));
            } catch (StoreException e) {
                // The sources stay published; the next pass tries again.
                log.error("compaction failed, retried by the next maintenance pass: {}", e.getMessage(), e);
            }
            return report;
        } finally {
            maintenanceLock.unlock();
        }
    }

    @Override
    public dev.tally.store.CompactionReport compact(boolean allClosedDays) {
        checkWritable("compact");
        maintenanceLock.lock();
        try {
            Instant now = config.clock().instant();
            return compactLocked(allClosedDays ? now : now.minus(config.compactAfter()));
        } finally {
            maintenanceLock.unlock();
        }
    }

    /**
     * Compacts every UTC day that ended at or before {@code closedBy}: rollups first, then detail
     * (see {@link DetailCoverage} for why that order). Per unit: write and verify the merged part
     * ({@link Compactor}), swap it for its sources in the manifest (the commit point), swap the
     * view, then retire the sources like retention does, so a reader that pinned an older view
     * keeps its files until it lets go. Caller holds the maintenance lock.
     */
    private dev.tally.store.CompactionReport compactLocked(Instant closedBy) {
        Instant ranAt = config.clock().instant();
        java.time.LocalDate lastDay = java.time.LocalDate.ofInstant(closedBy, java.time.ZoneOffset.UTC).minusDays(1);
        List<dev.tally.store.CompactionReport.Unit> done = new ArrayList<>();
        for (PartKind kind : List.of(PartKind.ROLLUP, PartKind.DETAIL)) {
            for (Compactor.Unit unit : Compactor.plan(manifest, kind, lastDay)) {
                if (closed) {
                    break;
                }
                long start = System.nanoTime();
                SealedPart merged;
                try {
                    merged = compactor.write(unit, manifest);
                    Manifest next = manifest.withCompacted(unit.sources(), merged);
                    next.write(files.manifest());
                    manifest = next;
                } catch (SQLException | IOException e) {
                    throw new StoreException("compaction of " + kind.name().toLowerCase(java.util.Locale.ROOT)
                            + " from " + unit.start() + " failed; its " + unit.sources().size()
                            + " parts stay published: " + e.getMessage(), e);
                }
                crash.at(CrashPoint.COMPACT_PUBLISHED);
                List<PartHandle> retired = new ArrayList<>();
                synchronized (stateLock) {
                    parts.put(merged.path(), new PartHandle(merged, FileSync.resolveInside(files.root(), merged.path())));
                    for (SealedPart p : unit.sources()) {
                        retired.add(parts.remove(p.path()));
                    }
                    publishLocked();
                }
                for (PartHandle h : retired) {
                    retirePart(h, "compacted into " + merged.path());
                }
                done.add(new dev.tally.store.CompactionReport.Unit(kind.name(), merged.path(), unit.sources().size(),
                        merged.rows(), merged.bytes()));
                log.info("compacted {} parts of {} from {} into {} ({} rows, {} bytes) in {} ms", unit.sources().size(),
                        kind.name().toLowerCase(java.util.Locale.ROOT), unit.start(), merged.path(), merged.rows(),
                        merged.bytes(), (System.nanoTime() - start) / 1_000_000);
            }
        }
        return new dev.tally.store.CompactionReport(ranAt, lastDay, done);
    }

    /** Deletes a part that left the manifest once no reader pins it; drops its cache entries then. */
    private void retirePart(PartHandle h, String reason) {
        if (h == null) {
            return;
        }
        String path = h.part().path();
        draining.add(h.file());
        h.retire(reason, () -> {
            partCache.asMap().keySet().removeIf(k -> k.path().equals(path));
            draining.remove(h.file());
            notifyPartDeleted(h.part());
        });
    }

    @Override
    public RetentionReport retention(boolean dryRun) {
        if (!dryRun) {
            checkWritable("retention");
        }
        maintenanceLock.lock();
        try {
            return retentionLocked(dryRun);
        } finally {
            maintenanceLock.unlock();
        }
    }

    private RetentionReport retentionLocked(boolean dryRun) {
        long start = System.nanoTime();
        Instant now = config.clock().instant();
        List<RetentionReport.Action> actions = new ArrayList<>();

        // 1. An active segment whose newest row is already expired: roll it under the gate, then
        //    seal. The sealer keeps the detail of any day that holds a current row, so an append
        //    that raced in before the rollover loses nothing.
        SegmentHandle a = active;
        if (a != null && policy.activeExpired(a, now)) {
            actions.add(new RetentionReport.Action(RetentionReason.ACTIVE_SEGMENT_EXPIRED,
                    files.root().relativize(a.file()).toString(), a.rows(),
                    "newest event " + a.maxTime() + " is older than the detail cutoff " + policy.detailCutoff(now)));
            if (!dryRun) {
                rollover(RetentionReason.ACTIVE_SEGMENT_EXPIRED.name());
                sealPendingLocked();
            }
        }

        // 2. Published parts past their tier's retention.
        List<RetentionPolicy.Expiry> expired = policy.expiredParts(manifest, now);
        for (RetentionPolicy.Expiry x : expired) {
            actions.add(new RetentionReport.Action(x.reason(), x.part().path(), x.part().rows(), x.detail()));
        }
        if (!dryRun && !expired.isEmpty()) {
            deleteParts(expired);
        }

        // 3. Orphans: files nothing names, older than the grace period.
        try {
            Set<Long> live = new HashSet<>();
            synchronized (stateLock) {
                view.segments().forEach(h -> live.add(h.seq()));
            }
            for (RetentionPolicy.Orphan o : policy.orphans(files, manifest, live, draining, now)) {
                actions.add(new RetentionReport.Action(RetentionReason.ORPHAN, o.relative(), 0,
                        "named by no manifest entry or live segment, older than " + config.orphanGracePeriod()));
                if (!dryRun && FileSync.deleteDurably(o.file())) {
                    log.info("deleted orphan {}: named by no manifest entry or live segment", o.relative());
                }
            }
        } catch (IOException e) {
            log.warn("orphan scan failed, retried next pass: {}", e.getMessage());
        }
        if (!dryRun) {
            metrics.retentionNanos.add(System.nanoTime() - start);
        }
        return new RetentionReport(dryRun, now, actions);
    }

    private void deleteParts(List<RetentionPolicy.Expiry> expired) {
        List<SealedPart> gone = expired.stream().map(RetentionPolicy.Expiry::part).toList();
        Manifest next = manifest.withoutParts(gone).withDetailLost(gone);
        try {
            next.write(files.manifest());
        } catch (IOException e) {
            throw new StoreException("retention could not update the manifest; nothing was deleted: "
                    + e.getMessage(), e);
        }
        manifest = next;
        crash.at(CrashPoint.RETENTION_PUBLISHED);
        List<PartHandle> retired = new ArrayList<>();
        synchronized (stateLock) {
            for (SealedPart p : gone) {
                retired.add(parts.remove(p.path()));
            }
            publishLocked();
        }
        for (int i = 0; i < retired.size(); i++) {
            RetentionPolicy.Expiry x = expired.get(i);
            retirePart(retired.get(i), x.reason().name() + ": " + x.detail());
        }
        // Segments with no detail left no longer answer duplicate checks. A compacted part holds
        // every segment of its range [minSeq, seq].
        List<SealedPart> withDetail = next.parts(PartKind.DETAIL);
        Set<Long> live = new HashSet<>();
        synchronized (stateLock) {
            view.segments().forEach(h -> live.add(h.seq()));
        }
        Map<Long, Boolean> dead = new java.util.concurrent.ConcurrentHashMap<>(); // few seqs, many keys
        long purged = dedup.purge(seq -> dead.computeIfAbsent(seq,
                k -> !live.contains(k) && withDetail.stream().noneMatch(p -> p.coversSeq(k))));
        if (purged > 0) {
            log.info("dedup index: dropped {} ids of deleted detail", purged);
        }
    }

    /**
     * Registers {@code listener} to be told of every part retention (or compaction) deletes, once no reader pins
     * it any more (so no query still running can put a result for it back into a cache). Query
     * layers with their own per-part caches use it to drop entries; their keys also hold the
     * part's CRC32C, so an entry can never be served for a changed file. Returns a handle that
     * unregisters the listener. The listener runs on the thread that released the part and must
     * not block; an exception it throws is logged and ignored.
     */
    public AutoCloseable onPartDeleted(java.util.function.Consumer<SealedPart> listener) {
        java.util.Objects.requireNonNull(listener, "listener");
        partDeletedListeners.add(listener);
        return () -> partDeletedListeners.remove(listener);
    }

    private void notifyPartDeleted(SealedPart part) {
        for (var l : partDeletedListeners) {
            try {
                l.accept(part);
            } catch (RuntimeException e) {
                log.warn("a part-deleted listener failed for {}: {}", part.path(), e.getMessage(), e);
            }
        }
    }

    // ---------------------------------------------------------------- reads

    /** Pins the current view; the caller must {@link TierView#release()} it. */
    public TierView acquireView() {
        for (;;) {
            TierView v = view;
            if (v == null) {
                throw new StoreException("the store is closed");
            }
            if (v.tryRetain()) {
                return v;
            }
        }
    }

    /** Publishes a new view of the current state. Caller holds stateLock. */
    private void publishLocked() {
        TierView next = new TierView(active, pending, manifest, parts);
        TierView prev = view;
        view = next;
        if (prev != null) {
            prev.release();
        }
    }

    @Override
    public Totals total(String tenant, String type, String subject, String valuePath, Instant fromInclusive,
            Instant toExclusive) {
        Instant from = fromInclusive;
        Instant to = toExclusive;
        if (tenant == null || type == null || subject == null || from == null || to == null) {
            throw new IllegalArgumentException("tenant, type, subject, from and to are required");
        }
        if (valuePath == null || !VALUE_PATH.matcher(valuePath).matches()) {
            throw new IllegalArgumentException("valuePath = " + valuePath + " is not a JSON path like $.input_tokens "
                    + "or $.usage.input_tokens");
        }
        if (!from.isBefore(to)) {
            throw new IllegalArgumentException("from = " + from + " must be before to = " + to);
        }
        from = TimeUtil.clamp(from);
        to = TimeUtil.clamp(to);
        TierView v = acquireView();
        DuckDBConnection c = null;
        try {
            c = engine.borrow();
            Totals sum = Totals.ZERO;
            List<PartHandle> misses = new ArrayList<>();
            Map<PartHandle, PartQueryKey> keys = new HashMap<>();
            for (PartHandle p : v.parts(PartKind.DETAIL, from, to)) {
                boolean whole = p.part().within(from, to);
                PartQueryKey key = new PartQueryKey(p.part().path(), p.part().crc32c(), tenant, type, subject,
                        valuePath, whole ? null : from, whole ? null : to, corrections.version(tenant));
                Totals cached = partCache.getIfPresent(key);
                if (cached != null) {
                    sum = sum.plus(cached);
                } else {
                    misses.add(p);
                    keys.put(p, key);
                }
            }
            if (!misses.isEmpty()) {
                Map<String, Totals> perFile = totalsByFile(c, corrections.excluding(tenant, parquetSource(misses, ", filename = true")),
                        tenant, type, subject, valuePath, from, to);
                for (PartHandle p : misses) {
                    Totals t = perFile.getOrDefault(p.file().toString(), Totals.ZERO);
                    partCache.put(keys.get(p), t);
                    sum = sum.plus(t);
                }
            }
            for (SegmentHandle h : v.segments()) {
                if (h.overlaps(from, to)) {
                    sum = sum.plus(totalsByFile(c, "(SELECT *, '' AS filename FROM " + corrections.excluding(tenant,
                            h.eventsTable()) + ")", tenant, type, subject, valuePath, from, to).getOrDefault("", Totals.ZERO));
                }
            }
            String amended = corrections.replacements(tenant, v);
            if (amended != null) {
                sum = sum.plus(totalsByFile(c, "(SELECT *, '' AS filename FROM " + amended + ")", tenant, type, subject,
                        valuePath, from, to).getOrDefault("", Totals.ZERO));
            }
            return sum;
        } catch (SQLException e) {
            throw readFailure(v.parts(PartKind.DETAIL, from, to), e);
        } finally {
            if (c != null) {
                engine.giveBack(c);
            }
            v.release();
        }
    }

    /**
     * Turns a failed read into an error that says what happened. If one of the parts the query
     * read is damaged (size or CRC32C differs from its manifest entry), it is quarantined so later
     * queries answer from the rest, and the error names it: this query is not answered, because
     * its result would silently miss the quarantined rows.
     */
    public StoreException readFailure(List<PartHandle> partsRead, SQLException cause) {
        List<String> damaged = new ArrayList<>();
        for (PartHandle h : partsRead) {
            String problem = Quarantine.contentProblem(files, h.part());
            if (problem != null) {
                log.error("damaged archive part {} ({} rows {}..{}): {}", h.part().path(), h.part().rows(),
                        h.part().minTime(), h.part().maxTime(), problem);
                // Only what a tenant may see: the part's relative path and time span, not its rows.
                damaged.add(h.part().path() + " (events " + h.part().minTime() + ".." + h.part().maxTime() + ")");
                if (!config.readOnly()) {
                    quarantine(h.part(), problem);
                }
            }
        }
        // The engine's text can quote another tenant's value from a shared part: log it, never return it.
        EngineErrors.Redacted r = EngineErrors.redact("query", cause);
        if (damaged.isEmpty()) {
            return new StoreException(r.message(), cause);
        }
        return new StoreException("query not answered: damaged archive part(s) " + String.join(", ", damaged)
                + (config.readOnly() ? "" : " quarantined to quarantine/; later queries answer without them, "
                        + "restore the file from a backup to get the rows back (see docs/reliability.md)")
                + "; incident " + r.incident(), cause);
    }

    /**
     * Checks every published part's size and CRC32C and quarantines the damaged ones. Reads the
     * whole archive; run it from maintenance or by hand ({@code usage-worker repair check}).
     *
     * @return the damaged parts found, with what was wrong
     */
    public List<String> verifyParts() {
        List<String> problems = new ArrayList<>();
        for (SealedPart p : manifest.parts()) {
            String problem = Quarantine.contentProblem(files, p);
            if (problem != null) {
                problems.add(p.path() + ": " + problem);
                if (!config.readOnly()) {
                    quarantine(p, problem);
                }
            }
        }
        return problems;
    }

    private void quarantine(SealedPart part, String reason) {
        maintenanceLock.lock();
        try {
            if (manifest.parts().stream().noneMatch(p -> p.path().equals(part.path()))) {
                return; // already done by another reader
            }
            Instant now = config.clock().instant();
            Manifest next = manifest.withQuarantined(part, reason, now).withDetailLost(List.of(part));
            next.write(files.manifest());
            manifest = next;
            PartHandle h;
            synchronized (stateLock) {
                h = parts.remove(part.path());
                publishLocked();
            }
            partCache.asMap().keySet().removeIf(k -> k.path().equals(part.path()));
            if (h != null) {
                h.close();
            }
            Quarantine.move(files, part.path(), now, reason);
        } catch (IOException e) {
            throw new StoreException("could not quarantine damaged part " + part.path() + ": " + e.getMessage(), e);
        } finally {
            maintenanceLock.unlock();
        }
    }

    private static Map<String, Totals> totalsByFile(DuckDBConnection c, String source, String tenant, String type,
            String subject, String valuePath, Instant from, Instant to) throws SQLException {
        String sql = "SELECT filename, count(*), count(v), coalesce(sum(v), 0) FROM (SELECT filename, "
                + exactNumber("data", valuePath) + " AS v FROM " + source
                + " WHERE tenant = ? AND type = ? AND subject = ? AND time >= make_timestamp(?) "
                + "AND time < make_timestamp(?)) GROUP BY filename";
        Map<String, Totals> out = new HashMap<>();
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            ps.setString(1, tenant);
            ps.setString(2, type);
            ps.setString(3, subject);
            ps.setLong(4, TimeUtil.toMicros(from));
            ps.setLong(5, TimeUtil.toMicros(to));
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    out.put(rs.getString(1), new Totals(rs.getLong(2), rs.getLong(3), rs.getObject(4, BigDecimal.class)));
                }
            }
        }
        return out;
    }

    /**
     * SQL for the JSON number at {@code valuePath} in {@code column} as an exact DECIMAL(38,9), NULL
     * when absent or not a JSON number. {@code json_transform} converts the number's text exactly;
     * {@code json_extract} would pass it through a double and lose digits past about 16
     * significant ones. The path was checked against {@link #VALUE_PATH}.
     */
    static String exactNumber(String column, String valuePath) {
        List<String> keys = new ArrayList<>();
        java.util.regex.Matcher m = Pattern.compile("\\.([A-Za-z_][A-Za-z0-9_]*)|\\[\"([^\"\\\\]+)\"\\]")
                .matcher(valuePath.substring(1));
        while (m.find()) {
            keys.add(m.group(1) != null ? m.group(1) : m.group(2));
        }
        com.fasterxml.jackson.databind.node.ObjectNode spec =
                com.fasterxml.jackson.databind.node.JsonNodeFactory.instance.objectNode();
        com.fasterxml.jackson.databind.node.ObjectNode at = spec;
        StringBuilder pointer = new StringBuilder();
        StringBuilder access = new StringBuilder();
        for (int i = 0; i < keys.size(); i++) {
            String k = keys.get(i);
            if (i < keys.size() - 1) {
                at = at.putObject(k);
            } else {
                at.put(k, "DECIMAL(38,9)");
            }
            pointer.append('/').append(k.replace("~", "~0").replace("/", "~1"));
            access.append('[').append(Engine.literal(k)).append(']');
        }
        return "CASE WHEN json_type(" + column + ", " + Engine.literal(pointer.toString())
                + ") IN ('BIGINT', 'UBIGINT', 'DOUBLE', 'HUGEINT') THEN json_transform(" + column + ", "
                + Engine.literal(spec.toString()) + ")" + access + " END";
    }

    /** Cache key of one part's totals; the CRC makes a replaced file a different key. */
    record PartQueryKey(String path, long crc32c, String tenant, String type, String subject, String valuePath,
            Instant from, Instant to, long corrections) {
    }

    @Override
    public Map<String, ImportPosition> importPositions() {
        TierView v = acquireView();
        DuckDBConnection c = null;
        try {
            SegmentHandle a = v.active();
            Map<String, ImportPosition> out = new LinkedHashMap<>();
            if (a == null) {
                return out;
            }
            c = engine.borrow();
            try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT source, position, "
                    + "fingerprint, identity FROM " + a.alias() + ".main.import_positions ORDER BY source")) {
                while (rs.next()) {
                    out.put(rs.getString(1), new ImportPosition(rs.getString(1), rs.getLong(2), rs.getString(3),
                            rs.getString(4)));
                }
            }
            return out;
        } catch (SQLException e) {
            throw new StoreException("cannot read import positions: " + e.getMessage(), e);
        } finally {
            if (c != null) {
                engine.giveBack(c);
            }
            v.release();
        }
    }

    @Override
    public int forgetImportPositions(java.util.Collection<String> sources) {
        if (sources.isEmpty()) {
            return 0;
        }
        writeGate.lock();
        try {
            checkWritable("forget import positions");
            int n = writer.forgetPositions(active, sources);
            log.info("forgot {} import position(s) of sources gone for good: {}", n, sources);
            return n;
        } catch (SQLException e) {
            throw new StoreException("cannot delete import positions of " + sources + ": " + e.getMessage(), e);
        } finally {
            writeGate.unlock();
        }
    }

    @Override
    public List<SegmentInfo> segments() {
        TierView v = acquireView();
        try {
            List<SegmentInfo> out = new ArrayList<>();
            for (SegmentHandle h : v.segments()) {
                out.add(new SegmentInfo(h == v.active() ? SegmentInfo.State.ACTIVE : SegmentInfo.State.PENDING,
                        h.seq(), files.root().relativize(h.file()).toString(), h.minTime(), h.maxTime(), h.rows(),
                        h.bytesOnDisk()));
            }
            for (SealedPart p : v.manifest().parts()) {
                out.add(new SegmentInfo(p.kind() == PartKind.DETAIL ? SegmentInfo.State.SEALED_DETAIL
                        : SegmentInfo.State.SEALED_ROLLUP, p.seq(), p.path(), p.minTime(), p.maxTime(), p.rows(),
                        p.bytes()));
            }
            for (Manifest.Quarantined q : v.manifest().quarantined()) {
                SealedPart p = q.part();
                out.add(new SegmentInfo(SegmentInfo.State.QUARANTINED, p.seq(), p.path(), p.minTime(), p.maxTime(),
                        p.rows(), p.bytes()));
            }
            return out;
        } finally {
            v.release();
        }
    }

    @Override
    public StoreConfig config() {
        return config;
    }

    /** The shared DuckDB engine, for the query layer. */
    public Engine engine() {
        return engine;
    }

    public SegmentFiles files() {
        return files;
    }

    public StoreMetrics metrics() {
        return metrics;
    }

    /** The corrections record readers apply; see {@link dev.tally.store.correct.CorrectionLog}. */
    public dev.tally.store.correct.CorrectionLog corrections() {
        return corrections;
    }

    @Override
    public dev.tally.store.correct.CorrectionResult correct(dev.tally.store.correct.Correction correction) {
        checkWritable("correct");
        return corrector.apply(correction);
    }

    @Override
    public List<dev.tally.store.correct.CorrectionRecord> corrections(String tenant) {
        return corrections.list(tenant, false);
    }

    @Override
    public dev.tally.store.correct.ClosedPeriod closePeriod(String tenant, java.time.YearMonth month,
            java.time.ZoneId zone, String actor) {
        checkWritable("close-period");
        return corrector.closePeriod(tenant, month, zone, actor);
    }

    @Override
    public List<dev.tally.store.correct.ClosedPeriod> closedPeriods(String tenant) {
        return corrections.closedPeriods(tenant);
    }

    @Override
    public List<dev.tally.store.correct.ForcedCorrection> forcedCorrections(String tenant) {
        return corrector.forcedReport(tenant);
    }

    public DedupIndex dedupIndex() {
        return dedup;
    }

    // ---------------------------------------------------------------- lifecycle

    private void checkWritable(String operation) {
        if (config.readOnly()) {
            throw new ReadOnlyStoreException(operation);
        }
        if (closed) {
            throw new StoreException("the store is closed; '" + operation + "' was not done");
        }
    }

    /** Runs {@code action} once the store is closed. */
    public void runOnClose(Runnable action) {
        closeActions.add(Objects.requireNonNull(action, "action"));
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        try {
            closeStore();
        } finally {
            for (Runnable r : closeActions) {
                try {
                    r.run();
                } catch (RuntimeException e) {
                    log.warn("a close action of the store failed: {}", e.toString());
                }
            }
        }
    }

    private void closeStore() {
        if (ownedExecutor != null) {
            ownedExecutor.shutdown();
        }
        maintenanceLock.lock();
        try {
            writeGate.lock();
            try {
                if (closed) {
                    return;
                }
                closed = true;
                if (active != null && !config.readOnly()) {
                    try {
                        writer.checkpoint(active);
                    } catch (SQLException e) {
                        log.warn("checkpoint on close failed; DuckDB replays its WAL on the next open: {}",
                                e.getMessage());
                    }
                }
            } finally {
                writeGate.unlock();
            }
        } finally {
            maintenanceLock.unlock();
        }
        if (ownedExecutor != null) {
            try {
                ownedExecutor.awaitTermination(30, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        closeQuietly();
    }

    /**
     * Drops the store as a crash would: no checkpoint, no seal, no file clean-up; only the
     * process-level resources (DuckDB instance, lock) are released so the same JVM can reopen.
     */
    void abandon() {
        closed = true;
        if (ownedExecutor != null) {
            ownedExecutor.shutdownNow();
        }
        writer.close();
        engine.close();
        releaseLock(storeLock, lockChannel);
        if (storeLock != null) {
            ProcessLocks.release(files.lockFile());
        }
    }

    private void closeQuietly() {
        closed = true;
        synchronized (stateLock) {
            if (view != null) {
                view.release();
                view = null;
            }
            if (active != null) {
                active.retire(SegmentHandle.Disposal.DETACH, "store closed", () -> { });
            }
            pending.forEach(h -> h.retire(SegmentHandle.Disposal.DETACH, "store closed", () -> { }));
            pending.clear();
            parts.values().forEach(PartHandle::close);
            parts.clear();
        }
        writer.close();
        engine.close();
        releaseLock(storeLock, lockChannel);
        if (storeLock != null) {
            ProcessLocks.release(files.lockFile());
        }
    }

    private static void releaseLock(FileLock lock, FileChannel channel) {
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
    }
}
