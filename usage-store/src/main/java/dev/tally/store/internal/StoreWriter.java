package dev.tally.store.internal;

import dev.tally.store.dedup.DedupIndex;
import dev.tally.store.mutation.Mutation;

import dev.tally.store.AppendResult;
import dev.tally.store.EventRejectedException;
import dev.tally.store.EventRules;
import dev.tally.store.ImportPosition;
import dev.tally.store.Rejection;
import dev.tally.store.RejectionSink;
import dev.tally.store.StoreConfig;
import dev.tally.store.StoreException;
import dev.tally.store.UsageEvent;
import dev.tally.store.ValidEvent;
import dev.tally.store.engine.Engine;
import dev.tally.store.engine.TimeUtil;
import java.io.IOException;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.locks.Lock;
import java.util.function.IntFunction;
import org.duckdb.DuckDBConnection;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The append path (Kafka's active {@code LogSegment} with its append side of {@code UnifiedLog}):
 * validates a batch, drops the events already stored (a dedup-index hit confirmed against the one
 * segment or part it names), writes the rest and the import position in one transaction through
 * {@link ActiveWriter}, and rolls the active segment over when it grew by
 * {@code maxSegmentBytes} or when maintenance asks.
 *
 * <p>Thread-safe. It owns the fair write gate: held by an append for its whole body and by every
 * rollover, so no append is between choosing the active segment and committing to it while that
 * segment is rolled. Fields marked below are guarded by it. It takes stateLock (inside the gate)
 * only to swap in a new active segment, and never the maintenance lock.
 */
final class StoreWriter {
    private static final Logger log = LoggerFactory.getLogger(StoreWriter.class);

    /** Checks the i-th event of a batch against {@code now} and returns it in stored form. */
    @FunctionalInterface
    private interface Check {
        UsageEvent apply(int index, Instant now) throws EventRejectedException;
    }

    private final StoreConfig config;
    private final Engine engine;
    private final DedupIndex dedup;
    private final StoreMetrics metrics;
    private final CrashPoint crash;
    private final TierState tiers;
    private final EventRules rules;
    private final AppendSeam seam;
    private final Lock writeGate;
    /** Told after a rollover outside the gate, so the pending segment gets sealed. */
    private final Runnable sealTrigger;

    // Guarded by writeGate.
    private final ActiveWriter writer;
    private long nextSeq;

    StoreWriter(StoreContext ctx, TierState tiers, AppendSeam seam, Lock writeGate, Runnable sealTrigger)
            throws SQLException {
        this.config = ctx.config();
        this.engine = ctx.engine();
        this.dedup = ctx.dedup();
        this.metrics = ctx.metrics();
        this.crash = ctx.crash();
        this.tiers = tiers;
        this.rules = EventRules.of(config);
        this.seam = seam;
        this.writeGate = writeGate;
        this.sealTrigger = sealTrigger;
        this.writer = new ActiveWriter(ctx.engine(), ctx.files());
    }

    /** The DuckDB writer, for recovery (attaching and creating segments) before the store is shared. */
    ActiveWriter segmentWriter() {
        return writer;
    }

    /** The next segment sequence, as recovery found it; before the store is shared. */
    void nextSeq(long seq) {
        nextSeq = seq;
    }

    AppendResult append(List<UsageEvent> events, ImportPosition position, RejectionSink beforeCommit) {
        return append(events.size(), (i, now) -> rules.validate(events.get(i), now).event(),
                i -> events.get(i) == null ? null : events.get(i).id(), position, beforeCommit);
    }

    AppendResult appendValid(List<ValidEvent> events, ImportPosition position, RejectionSink beforeCommit) {
        // Validated once already: only the time bounds depend on this store's clock.
        return append(events.size(), (i, now) -> {
            ValidEvent v = events.get(i);
            rules.checkTime(v.time(), now);
            return v.event();
        }, i -> events.get(i).id(), position, beforeCommit);
    }

    private AppendResult append(int size, Check check, IntFunction<String> idOf, ImportPosition position,
            RejectionSink beforeCommit) {
        tiers.checkAppendable("append");
        Instant now = config.clock().instant();
        List<Rejection> rejected = new ArrayList<>();
        // Validation is pure CPU: done before taking the gate.
        List<StoredEvent> unique = new ArrayList<>(size);
        BatchKeys byHash = new BatchKeys(size);
        Set<String> collided = null;
        int inBatchDuplicates = 0;
        for (int i = 0; i < size; i++) {
            try {
                UsageEvent v = check.apply(i, now);
                StoredEvent se = new StoredEvent(i, v, KeyHash.of(v.tenant(), v.id()), TimeUtil.toMicros(v.time()));
                StoredEvent first = byHash.putIfAbsent(se);
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
            tiers.checkAppendable("append");
            List<StoredEvent> fresh = seam.mutations().contains(Mutation.NO_DEDUP_CHECK) ? unique : withoutStored(unique);
            int duplicates = inBatchDuplicates + unique.size() - fresh.size();
            if (fresh.isEmpty() && position == null) {
                return record(new AppendResult(0, duplicates, rejected));
            }
            SegmentHandle seg = tiers.active();
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
                sealTrigger.run();
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
        TierView v = tiers.acquireView();
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
                    stored.addAll(findKeys(PartHandle.parquetSource(all, ""), ambiguous));
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
        return detail.isEmpty() ? List.of() : List.of(PartHandle.parquetSource(detail, ""));
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

    // ---------------------------------------------------------------- rollover

    /**
     * Swaps in a fresh active segment. Caller holds the write gate, so no append is between its
     * write and its commit on the old segment: the old segment's rows are final once this runs.
     */
    private void rolloverLocked(String reason) {
        SegmentHandle old = tiers.active();
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
            if (!writer.checkpointIfQuiet(old)) {
                log.warn("rollover of segment {}: DuckDB kept reporting another transaction on it after {} tries, so "
                        + "it rolls without a checkpoint; its rows are durable in its WAL, which the seal reads and "
                        + "the next open replays", old.seq(), ActiveWriter.CHECKPOINT_TRIES);
            }
            crash.at(CrashPoint.ROLLOVER_CHECKPOINTED);
            SegmentHandle fresh = writer.createSegment(nextSeq, old, now);
            nextSeq++;
            crash.at(CrashPoint.ROLLOVER_CREATED);
            synchronized (tiers.lock()) {
                tiers.pendingLocked().add(old);
                tiers.activeLocked(fresh);
                tiers.publishLocked();
            }
            log.info("rolled segment {} ({} rows, {} bytes): {}; segment {} is now active", old.seq(), old.rows(),
                    old.bytesOnDisk(), reason, fresh.seq());
        } catch (SQLException | IOException e) {
            throw new StoreException("rollover of segment " + old.seq() + " failed (" + reason
                    + "); it stays active: " + e.getMessage(), e);
        }
    }

    private long oldestSeqWithRows() {
        long oldest = tiers.active().seq();
        synchronized (tiers.lock()) {
            for (SegmentHandle h : tiers.pendingLocked()) {
                oldest = Math.min(oldest, h.seq());
            }
        }
        for (SealedPart p : tiers.manifest().parts(PartKind.DETAIL)) {
            oldest = Math.min(oldest, p.minSeq());
        }
        return oldest;
    }

    /** Rolls the active segment under the gate if it holds rows; does not seal it. */
    boolean rollover(String reason) {
        tiers.checkWritable("rollover");
        writeGate.lock();
        try {
            tiers.checkWritable("rollover");
            if (tiers.active() == null || tiers.active().rows() == 0) {
                // No active segment: the store is degraded (its active segment is damaged).
                return false;
            }
            rolloverLocked(reason);
            return true;
        } finally {
            writeGate.unlock();
        }
    }

    // ---------------------------------------------------------------- import positions

    /** The import positions committed with the active segment's appends; read through a view, no gate. */
    Map<String, ImportPosition> importPositions() {
        TierView v = tiers.acquireView();
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

    int forgetImportPositions(Collection<String> sources) {
        if (sources.isEmpty()) {
            return 0;
        }
        writeGate.lock();
        try {
            tiers.checkAppendable("forget import positions");
            int n = writer.forgetPositions(tiers.active(), sources);
            log.info("forgot {} import position(s) of sources gone for good: {}", n, sources);
            return n;
        } catch (SQLException e) {
            throw new StoreException("cannot delete import positions of " + sources + ": " + e.getMessage(), e);
        } finally {
            writeGate.unlock();
        }
    }

    // ---------------------------------------------------------------- lifecycle

    /**
     * Marks the store closed under the gate, so no append is in flight, and checkpoints the active
     * segment. Caller holds the maintenance lock (the order is maintenance lock, then gate).
     * Returns false if the store was closed already.
     */
    boolean closeGated() {
        writeGate.lock();
        try {
            if (tiers.closed()) {
                return false;
            }
            tiers.markClosed();
            SegmentHandle active = tiers.active();
            if (active != null && !config.readOnly()) {
                try {
                    writer.checkpoint(active);
                } catch (SQLException e) {
                    log.warn("checkpoint on close failed; DuckDB replays its WAL on the next open: {}",
                            e.getMessage());
                }
            }
            return true;
        } finally {
            writeGate.unlock();
        }
    }

    /** Closes the writer connection; the store is closing or abandoned. */
    void closeConnection() {
        writer.close();
    }

    /**
     * The first event of a batch for each key hash, to find an id repeated within the batch: open
     * addressing over two arrays sized for the batch (a {@code HashMap<Long, ...>} boxed every
     * hash, a tenth of the appending thread's Java time). Not thread-safe: one batch's.
     */
    private static final class BatchKeys {
        private final long[] hashes;
        private final StoredEvent[] events;
        private final int mask;

        BatchKeys(int size) {
            int cap = Integer.highestOneBit(Math.max(2, size) * 2 - 1) << 1; // at most half full
            hashes = new long[cap];
            events = new StoredEvent[cap];
            mask = cap - 1;
        }

        /** Adds {@code se} under its hash unless one is there; returns the one there, or null. */
        StoredEvent putIfAbsent(StoredEvent se) {
            long h = se.keyHash();
            // The hash is XXH64, well mixed: its low bits place the slot.
            for (int i = (int) h & mask; ; i = (i + 1) & mask) {
                StoredEvent there = events[i];
                if (there == null) {
                    hashes[i] = h;
                    events[i] = se;
                    return null;
                }
                if (hashes[i] == h) {
                    return there;
                }
            }
        }
    }
}
