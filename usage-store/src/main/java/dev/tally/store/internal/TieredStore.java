package dev.tally.store.internal;

import dev.tally.store.dedup.DedupIndex;
import dev.tally.store.engine.Engine;

import dev.tally.store.AppendResult;
import dev.tally.store.CompactionReport;
import dev.tally.store.ImportPosition;
import dev.tally.store.RejectionSink;
import dev.tally.store.RetentionReport;
import dev.tally.store.SegmentInfo;
import dev.tally.store.StoreConfig;
import dev.tally.store.StoreException;
import dev.tally.store.Totals;
import dev.tally.store.UsageEvent;
import dev.tally.store.UsageStore;
import dev.tally.store.ValidEvent;
import dev.tally.store.correct.ClosedPeriod;
import dev.tally.store.correct.CorrectedStore;
import dev.tally.store.correct.Correction;
import dev.tally.store.correct.CorrectionLog;
import dev.tally.store.correct.CorrectionRecord;
import dev.tally.store.correct.CorrectionResult;
import dev.tally.store.correct.Corrector;
import dev.tally.store.correct.ForcedCorrection;
import dev.tally.store.meter.StoreTotals;
import dev.tally.store.read.PartFile;
import dev.tally.store.read.PartInfo;
import dev.tally.store.read.StoreReader;
import java.io.IOException;
import java.sql.SQLException;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executor;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The tiered store (Kafka's {@code UnifiedLog}): one active DuckDB segment receiving appends,
 * pending segments being sealed, and published Parquet parts. This front opens the store, hands
 * out views, answers {@code total()}, and closes; the work is done by the classes below, each of
 * which owns one lock and one set of file states.
 * <ul>
 *   <li>{@link StoreWriter} owns the fair {@code writeGate}: held by append for its whole body
 *       (dedup confirmation, write, commit) and by every rollover of the active segment (size,
 *       age, expiry, seal request, close). Never by sealing, part deletion or reads. Files: the
 *       active {@code segments/<seq>.duckdb} and the new segment a rollover creates.</li>
 *   <li>{@link StoreMaintenance} owns the {@code maintenanceLock}: seal, retention, compaction,
 *       orphan cleanup and quarantine, and every write of {@code manifest.json}. Files: pending
 *       segments, published, compacted, {@code .deleted}, orphan and quarantined parts.</li>
 *   <li>{@link TierState} owns {@code stateLock}: publication of a new {@link TierView}, the
 *       pending list and the part handles; held only for in-memory swaps, never across I/O.</li>
 *   <li>{@link StoreLoader} and {@link DedupLoader} run once on open, before the store is shared:
 *       the numbered recovery passes over every file state, then the dedup index from the key
 *       sidecars. They take no lock but the maintenance lock to seal and quarantine.</li>
 *   <li>{@link StoreLock} holds {@code store.lock}, the one-writer claim on the directory.</li>
 * </ul>
 *
 * <p><b>Lock order</b> (a thread holding a lock may only take locks to its right):
 * {@code maintenanceLock -> writeGate -> stateLock -> a DedupIndex shard lock}. So maintenance
 * may roll the active segment (taking the gate) but the writer never waits for maintenance: after
 * a rollover it only schedules a seal, outside the gate. Reads take none of them: they pin the
 * current {@link TierView}.
 *
 * <p>Thread-safe.
 */
public final class TieredStore implements UsageStore, StoreReader, CorrectedStore {
    private static final Logger log = LoggerFactory.getLogger(TieredStore.class);

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

    private final StoreContext ctx;
    private final StoreConfig config;
    private final SegmentFiles files;
    private final Engine engine;
    /** {@link #total} as a meter query; made on first use (it registers a part-deleted listener). */
    private volatile StoreTotals totals;
    private final Object totalsLock = new Object();
    private final TierState tiers;
    private final StoreWriter writer;
    private final StoreMaintenance maintenance;
    private final PartChecks checks;
    private final StoreLock storeLock;
    /** Corrections: their own record and lock; see {@link CorrectionLog}. */
    private final CorrectionLog corrections;
    private final Corrector corrector;
    /** Run once after close (a snapshot's copy is deleted there). */
    private final List<Runnable> closeActions = new CopyOnWriteArrayList<>();

    private TieredStore(StoreConfig config, Executor sealExecutor, Hooks hooks, StoreLock storeLock)
            throws SQLException {
        this.config = config;
        this.files = new SegmentFiles(config.dataDir());
        this.engine = new Engine();
        this.ctx = new StoreContext(config, files, engine, new DedupIndex(1 << 16), new StoreMetrics(), hooks.crash());
        this.tiers = new TierState(files, config.readOnly());
        Lock gate = hooks.writeGate() != null ? hooks.writeGate() : new ReentrantLock(true);
        this.writer = new StoreWriter(ctx, tiers, hooks.seam(), gate, this::scheduleSeal);
        this.maintenance = new StoreMaintenance(ctx, tiers, writer, sealExecutor);
        this.checks = new PartChecks(ctx, tiers, maintenance);
        this.corrections = new CorrectionLog(engine, config.dataDir(), config.readOnly());
        CrashPoint crash = hooks.crash();
        this.corrector = new Corrector(this, corrections, config.clock(),
                step -> crash.at(step.equals(Corrector.CRASH_APPENDED) ? CrashPoint.CORRECTION_APPENDED
                        : CrashPoint.CORRECTION_BEFORE_COMMIT));
        this.storeLock = storeLock;
    }

    /** Opens (creating if needed) the store in {@code config.dataDir()}, running recovery. */
    public static TieredStore open(StoreConfig config, Executor sealExecutor) {
        return open(config, sealExecutor, DEFAULT_HOOKS);
    }

    static TieredStore open(StoreConfig config, Executor sealExecutor, Hooks hooks) {
        StoreLock lock = null;
        TieredStore store = null;
        try {
            lock = StoreLock.acquire(config, new SegmentFiles(config.dataDir()));
            store = new TieredStore(config, sealExecutor, hooks, lock);
            store.recover();
            return store;
        } catch (IOException | SQLException | RuntimeException e) {
            if (store != null) {
                store.closeQuietly();
            } else if (lock != null) {
                lock.release();
            }
            if (e instanceof StoreException se) {
                throw se;
            }
            throw new StoreException("cannot open the store in " + config.dataDir() + ": " + e.getMessage(), e);
        }
    }

    /**
     * Passes 1 to 7 ({@link StoreLoader}), pass 8 ({@link DedupLoader}), then the seal of pending
     * segments is handed to the seal executor.
     */
    private void recover() throws IOException, SQLException {
        Instant now = config.clock().instant();
        ActiveWriter segments = writer.segmentWriter();
        StoreLoader.Loaded loaded = new StoreLoader(files, engine, segments, config.readOnly()).load(now);
        corrections.open();
        writer.nextSeq(loaded.nextSeq());
        tiers.install(loaded);
        new DedupLoader(ctx, tiers, segments, maintenance).load();
        SegmentHandle active = tiers.active();
        log.info("opened store {}: active segment {} ({} rows), {} sealed parts, {} ids indexed", config.dataDir(),
                active == null ? "-" : active.seq(), active == null ? 0 : active.rows(),
                tiers.manifest().parts().size(), ctx.dedup().size());
        if (!config.readOnly() && !loaded.pending().isEmpty() && loaded.damaged() == null) {
            // A segment the last stop left pending is in the state a rollover leaves: readable, in
            // the dedup index, sealed by the same executor. Sealing it here would hold the open
            // (and a worker's API) for the length of a seal. A degraded store seals nothing until
            // 'repair active' has run.
            maintenance.scheduleSeal();
        }
    }

    // ---------------------------------------------------------------- append (StoreWriter)

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
        return writer.append(events, position, beforeCommit);
    }

    @Override
    public AppendResult appendValid(List<ValidEvent> events, ImportPosition position, RejectionSink beforeCommit) {
        return writer.appendValid(events, position, beforeCommit);
    }

    /** Rolls the active segment under the gate if it holds rows. Package-private for tests. */
    boolean rollover(String reason) {
        return writer.rollover(reason);
    }

    @Override
    public long lastWrittenSeq() {
        SegmentHandle a = tiers.active();
        return a == null ? 0 : a.rows() == 0 ? a.seq() - 1 : a.seq();
    }

    @Override
    public long sealedThroughSeq() {
        return tiers.manifest().lastSeq();
    }

    @Override
    public Map<String, ImportPosition> importPositions() {
        return writer.importPositions();
    }

    @Override
    public int forgetImportPositions(java.util.Collection<String> sources) {
        return writer.forgetImportPositions(sources);
    }

    static String parquetSource(List<PartHandle> handles) {
        return PartHandle.parquetSource(handles, "");
    }

    /** {@code read_parquet([...]<options>)} over the handles' files. */
    static String parquetSource(List<PartHandle> handles, String options) {
        return PartHandle.parquetSource(handles, options);
    }

    // ---------------------------------------------------------------- seal, retention, compaction (StoreMaintenance)

    private void scheduleSeal() {
        maintenance.scheduleSeal();
    }

    /** Seals every pending segment, oldest first. */
    public void sealPending() {
        maintenance.sealPending();
    }

    @Override
    public void sealNow() {
        maintenance.sealNow();
    }

    @Override
    public RetentionReport maintain() {
        return maintenance.maintain();
    }

    @Override
    public CompactionReport compact(boolean allClosedDays) {
        return maintenance.compact(allClosedDays);
    }

    @Override
    public RetentionReport retention(boolean dryRun) {
        return maintenance.retention(dryRun);
    }

    /**
     * Registers {@code listener} to be told of every part retention (or compaction) deletes, once no reader pins
     * it any more (so no query still running can put a result for it back into a cache). Query
     * layers with their own per-part caches use it to drop entries; their keys also hold the
     * part's CRC32C, so an entry can never be served for a changed file. Returns a handle that
     * unregisters the listener. The listener runs on the thread that released the part and must
     * not block; an exception it throws is logged and ignored.
     */
    @Override
    public AutoCloseable onPartDeleted(Consumer<? super PartInfo> listener) {
        return maintenance.onPartDeleted(listener);
    }

    /**
     * Turns a failed read into an error that says what happened. If one of the parts the query
     * read is damaged (size or CRC32C differs from its manifest entry), it is quarantined so later
     * queries answer from the rest, and the error names it: this query is not answered, because
     * its result would silently miss the quarantined rows.
     */
    @Override
    public StoreException readFailure(List<? extends PartFile> partsRead, SQLException cause) {
        return checks.readFailure(partsRead, cause);
    }

    /**
     * Checks every published part's size and CRC32C and quarantines the damaged ones. Reads the
     * whole archive; run it from maintenance or by hand ({@code usage-worker repair check}).
     *
     * @return the damaged parts found, with what was wrong
     */
    @Override
    public List<String> verifyParts() {
        return checks.verifyParts();
    }

    // ---------------------------------------------------------------- reads

    /** Pins the current view; the caller must {@link TierView#release()} it. */
    @Override
    public TierView acquireView() {
        return tiers.acquireView();
    }

    @Override
    public Totals total(String tenant, String type, String subject, String valuePath, Instant fromInclusive,
            Instant toExclusive) {
        StoreTotals t = totals;
        if (t == null) {
            synchronized (totalsLock) {
                t = totals;
                if (t == null) {
                    // A part's cached total weighs at most 2 (one row and the entry): the knob still counts entries.
                    t = new StoreTotals(this, Math.min(Long.MAX_VALUE / 2, config.segmentCacheEntries()) * 2);
                    totals = t;
                }
            }
        }
        return t.total(tenant, type, subject, valuePath, fromInclusive, toExclusive);
    }

    @Override
    public List<SegmentInfo> segments() {
        return tiers.segments();
    }

    @Override
    public StoreConfig config() {
        return config;
    }

    /** The shared DuckDB engine, for the query layer. */
    @Override
    public Engine engine() {
        return engine;
    }

    public SegmentFiles files() {
        return files;
    }

    public StoreMetrics metrics() {
        return ctx.metrics();
    }

    // ---------------------------------------------------------------- corrections (Corrector)

    @Override
    public CorrectionLog corrections() {
        return corrections;
    }

    @Override
    public CorrectionResult correct(Correction correction) {
        tiers.checkWritable("correct");
        return corrector.apply(correction);
    }

    @Override
    public CorrectionResult correctOnce(Correction correction) {
        tiers.checkWritable("correct");
        return corrector.apply(correction, true);
    }

    @Override
    public List<CorrectionRecord> corrections(String tenant) {
        return corrections.list(tenant, false);
    }

    @Override
    public ClosedPeriod closePeriod(String tenant, java.time.YearMonth month, java.time.ZoneId zone, String actor) {
        tiers.checkWritable("close-period");
        return corrector.closePeriod(tenant, month, zone, actor);
    }

    @Override
    public List<ClosedPeriod> closedPeriods(String tenant) {
        return corrections.closedPeriods(tenant);
    }

    @Override
    public List<ForcedCorrection> forcedCorrections(String tenant) {
        return corrector.forcedReport(tenant);
    }

    @Override
    public StoreMetrics stats() {
        return ctx.metrics();
    }

    public DedupIndex dedupIndex() {
        return ctx.dedup();
    }

    // ---------------------------------------------------------------- lifecycle

    /** Runs {@code action} once the store is closed. */
    public void runOnClose(Runnable action) {
        closeActions.add(Objects.requireNonNull(action, "action"));
    }

    @Override
    public void close() {
        if (tiers.closed()) {
            return;
        }
        try {
            if (maintenance.close()) {
                closeQuietly();
            }
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

    /**
     * Drops the store as a crash would: no checkpoint, no seal, no file clean-up; only the
     * process-level resources (DuckDB instance, lock) are released so the same JVM can reopen.
     */
    void abandon() {
        tiers.markClosed();
        maintenance.abandon();
        writer.closeConnection();
        engine.close();
        storeLock.release();
    }

    private void closeQuietly() {
        tiers.detachAll();
        writer.closeConnection();
        engine.close();
        storeLock.release();
    }
}
