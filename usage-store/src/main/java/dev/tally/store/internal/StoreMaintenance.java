package dev.tally.store.internal;

import dev.tally.store.dedup.DedupIndex;

import dev.tally.store.read.PartInfo;

import dev.tally.store.CompactionReport;
import dev.tally.store.RetentionReason;
import dev.tally.store.RetentionReport;
import dev.tally.store.StoreConfig;
import dev.tally.store.StoreException;
import dev.tally.store.io.FileSync;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.SQLException;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Everything that changes the published tiers after a write (Kafka's {@code LogCleaner} with the
 * segment-deletion side of {@code UnifiedLog}): sealing pending segments into Parquet, retention,
 * compaction, deleting parts once no reader pins them, and quarantining damaged parts. It owns
 * {@code manifest.json}: the only writer of the file and of the manifest {@link TierState}
 * publishes, always file first, then the in-memory copy, then a new view.
 *
 * <p>Thread-safe. It owns the maintenance lock, which serializes seal, retention, compaction,
 * orphan cleanup and quarantine and guards every manifest write. Holding it, it may take the write
 * gate (through {@link StoreWriter#rollover}) and stateLock, never the other way round.
 */
final class StoreMaintenance {
    private static final Logger log = LoggerFactory.getLogger(StoreMaintenance.class);

    private final StoreConfig config;
    private final SegmentFiles files;
    private final StoreMetrics metrics;
    private final CrashPoint crash;
    private final DedupIndex dedup;
    private final TierState tiers;
    private final StoreWriter writer;
    private final RetentionPolicy policy;
    private final Sealer sealer;
    private final Compactor compactor;
    private final ReentrantLock maintenanceLock = new ReentrantLock();
    private final Executor sealExecutor;
    private final ExecutorService ownedExecutor;
    private final AtomicBoolean sealScheduled = new AtomicBoolean();
    /** Files retired but still pinned by readers: not orphans, whatever their age. */
    private final Set<Path> draining = ConcurrentHashMap.newKeySet();
    /** Told of each part retention or compaction deleted, after its last reader let go; see {@link #onPartDeleted}. */
    private final List<Consumer<? super PartInfo>> partDeletedListeners = new CopyOnWriteArrayList<>();

    StoreMaintenance(StoreContext ctx, TierState tiers, StoreWriter writer, Executor sealExecutor) {
        this.config = ctx.config();
        this.files = ctx.files();
        this.metrics = ctx.metrics();
        this.crash = ctx.crash();
        this.dedup = ctx.dedup();
        this.tiers = tiers;
        this.writer = writer;
        this.policy = new RetentionPolicy(config);
        this.sealer = new Sealer(ctx.engine(), files, crash);
        this.compactor = new Compactor(ctx.engine(), files, crash);
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
    }

    // ---------------------------------------------------------------- seal

    /** Seals on the seal executor, once however often asked before it runs. */
    void scheduleSeal() {
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
            } catch (RejectedExecutionException e) {
                sealScheduled.set(false);
            }
        }
    }

    void sealPending() {
        tiers.checkWritable("seal");
        maintenanceLock.lock();
        try {
            if (!tiers.closed()) {
                sealPendingLocked();
            }
        } finally {
            maintenanceLock.unlock();
        }
    }

    void sealNow() {
        tiers.checkWritable("seal");
        maintenanceLock.lock();
        try {
            writer.rollover("seal requested");
            sealPendingLocked();
        } finally {
            maintenanceLock.unlock();
        }
    }

    private void sealPendingLocked() {
        for (;;) {
            SegmentHandle next;
            synchronized (tiers.lock()) {
                next = tiers.pendingLocked().stream().min((a, b) -> Long.compare(a.seq(), b.seq())).orElse(null);
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
            Manifest next = tiers.manifest().withParts(seg.seq(), sealed);
            next.write(files.manifest());
            tiers.manifest(next);
            crash.at(CrashPoint.SEAL_PUBLISHED);
        } catch (SQLException | IOException e) {
            throw new StoreException("sealing segment " + seg.seq() + " failed; it stays pending: " + e.getMessage(), e);
        }
        synchronized (tiers.lock()) {
            for (SealedPart p : sealed) {
                tiers.partsLocked().put(p.path(), tiers.handle(p));
            }
            tiers.pendingLocked().remove(seg);
            tiers.publishLocked();
        }
        draining.add(seg.file());
        seg.retire(SegmentHandle.Disposal.DELETE, "sealed into " + sealed.size() + " parts",
                () -> draining.remove(seg.file()));
        metrics.sealNanos.add(System.nanoTime() - start);
        metrics.seals.increment();
        log.info("sealed segment {}: {} rows into {} parts in {} ms", seg.seq(), seg.rows(), sealed.size(),
                (System.nanoTime() - start) / 1_000_000);
    }

    // ---------------------------------------------------------------- maintenance pass and compaction

    RetentionReport maintain() {
        tiers.checkWritable("maintain");
        maintenanceLock.lock();
        try {
            Instant now = config.clock().instant();
            SegmentHandle active = tiers.active();
            if (active != null && policy.activeAged(active, now) && !policy.activeExpired(active, now)) {
                writer.rollover("older than maxSegmentAge (" + config.maxSegmentAge() + ")");
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

    CompactionReport compact(boolean allClosedDays) {
        tiers.checkWritable("compact");
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
    private CompactionReport compactLocked(Instant closedBy) {
        Instant ranAt = config.clock().instant();
        LocalDate lastDay = LocalDate.ofInstant(closedBy, ZoneOffset.UTC).minusDays(1);
        List<CompactionReport.Unit> done = new ArrayList<>();
        for (PartKind kind : List.of(PartKind.ROLLUP, PartKind.DETAIL)) {
            for (Compactor.Unit unit : Compactor.plan(tiers.manifest(), kind, lastDay)) {
                if (tiers.closed()) {
                    break;
                }
                long start = System.nanoTime();
                SealedPart merged;
                try {
                    merged = compactor.write(unit, tiers.manifest());
                    Manifest next = tiers.manifest().withCompacted(unit.sources(), merged);
                    next.write(files.manifest());
                    tiers.manifest(next);
                } catch (SQLException | IOException e) {
                    throw new StoreException("compaction of " + kind.name().toLowerCase(Locale.ROOT)
                            + " from " + unit.start() + " failed; its " + unit.sources().size()
                            + " parts stay published: " + e.getMessage(), e);
                }
                crash.at(CrashPoint.COMPACT_PUBLISHED);
                List<PartHandle> retired = new ArrayList<>();
                synchronized (tiers.lock()) {
                    tiers.partsLocked().put(merged.path(), tiers.handle(merged));
                    for (SealedPart p : unit.sources()) {
                        retired.add(tiers.partsLocked().remove(p.path()));
                    }
                    tiers.publishLocked();
                }
                for (PartHandle h : retired) {
                    retirePart(h, "compacted into " + merged.path());
                }
                done.add(new CompactionReport.Unit(kind.name(), merged.path(), unit.sources().size(),
                        merged.rows(), merged.bytes()));
                log.info("compacted {} parts of {} from {} into {} ({} rows, {} bytes) in {} ms", unit.sources().size(),
                        kind.name().toLowerCase(Locale.ROOT), unit.start(), merged.path(), merged.rows(),
                        merged.bytes(), (System.nanoTime() - start) / 1_000_000);
            }
        }
        return new CompactionReport(ranAt, lastDay, done);
    }

    // ---------------------------------------------------------------- retention and part deletion

    RetentionReport retention(boolean dryRun) {
        if (!dryRun) {
            tiers.checkWritable("retention");
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
        SegmentHandle a = tiers.active();
        if (a != null && policy.activeExpired(a, now)) {
            actions.add(new RetentionReport.Action(RetentionReason.ACTIVE_SEGMENT_EXPIRED,
                    files.root().relativize(a.file()).toString(), a.rows(),
                    "newest event " + a.maxTime() + " is older than the detail cutoff " + policy.detailCutoff(now)));
            if (!dryRun) {
                writer.rollover(RetentionReason.ACTIVE_SEGMENT_EXPIRED.name());
                sealPendingLocked();
            }
        }

        // 2. Published parts past their tier's retention.
        List<RetentionPolicy.Expiry> expired = policy.expiredParts(tiers.manifest(), now);
        for (RetentionPolicy.Expiry x : expired) {
            actions.add(new RetentionReport.Action(x.reason(), x.part().path(), x.part().rows(), x.detail()));
        }
        if (!dryRun && !expired.isEmpty()) {
            deleteParts(expired);
        }

        // 3. Orphans: files nothing names, older than the grace period.
        try {
            for (RetentionPolicy.Orphan o : policy.orphans(files, tiers.manifest(), liveSeqs(), draining, now)) {
                actions.add(new RetentionReport.Action(RetentionReason.ORPHAN, o.relative(), 0,
                        "named by no manifest entry or live segment, older than " + config.orphanGracePeriod()));
                if (!dryRun && FileSync.deleteDurably(o.file())) {
                    log.info("deleted orphan {}: named by no manifest entry or live segment", o.relative());
                }
            }
        } catch (IOException e) {
            log.warn("orphan scan failed, retried next pass: {}", e.getMessage());
        }

        // 4. Empty partition folders (a day, week or month whose parts were compacted or
        //    expired), older than the grace period. Seals and compactions create them under this
        //    same lock, and a folder with anything in it is never removed.
        if (!dryRun) {
            deleteEmptyPartitionFolders(now.minus(config.orphanGracePeriod()));
            metrics.retentionNanos.add(System.nanoTime() - start);
        }
        return new RetentionReport(dryRun, now, actions);
    }

    private void deleteEmptyPartitionFolders(Instant graceStart) {
        for (Path tier : List.of(files.archiveDir(), files.rollupsDir())) {
            if (!Files.isDirectory(tier)) {
                continue;
            }
            try (java.util.stream.Stream<Path> folders = Files.list(tier)) {
                for (Path f : folders.filter(Files::isDirectory).toList()) {
                    if (Files.getLastModifiedTime(f).toInstant().isBefore(graceStart) && isEmpty(f)) {
                        Files.delete(f); // fails, and is retried next pass, if a file appeared meanwhile
                        FileSync.fsyncDirectory(tier);
                        log.info("deleted empty folder {}: its parts were compacted or expired",
                                files.root().relativize(f));
                    }
                }
            } catch (IOException e) {
                log.warn("empty folder cleanup in {} failed, retried next pass: {}", tier.getFileName(), e.getMessage());
            }
        }
    }

    private static boolean isEmpty(Path dir) throws IOException {
        try (java.util.stream.Stream<Path> s = Files.list(dir)) {
            return s.findAny().isEmpty();
        }
    }

    private Set<Long> liveSeqs() {
        Set<Long> live = new HashSet<>();
        synchronized (tiers.lock()) {
            tiers.view().segments().forEach(h -> live.add(h.seq()));
        }
        // A damaged segment and those it holds back are not attached, but they are not orphans:
        // 'repair active' sets them aside (or, for held-back ones, keeps them).
        StoreLoader.DamagedSegment d = tiers.damaged();
        if (d != null) {
            live.add(d.seq());
            live.addAll(d.heldBack());
        }
        return live;
    }

    private void deleteParts(List<RetentionPolicy.Expiry> expired) {
        List<SealedPart> gone = expired.stream().map(RetentionPolicy.Expiry::part).toList();
        Manifest next = tiers.manifest().withoutParts(gone).withDetailLost(gone);
        try {
            next.write(files.manifest());
        } catch (IOException e) {
            throw new StoreException("retention could not update the manifest; nothing was deleted: "
                    + e.getMessage(), e);
        }
        tiers.manifest(next);
        crash.at(CrashPoint.RETENTION_PUBLISHED);
        List<PartHandle> retired = new ArrayList<>();
        synchronized (tiers.lock()) {
            for (SealedPart p : gone) {
                retired.add(tiers.partsLocked().remove(p.path()));
            }
            tiers.publishLocked();
        }
        for (int i = 0; i < retired.size(); i++) {
            RetentionPolicy.Expiry x = expired.get(i);
            retirePart(retired.get(i), x.reason().name() + ": " + x.detail());
        }
        // Segments with no detail left no longer answer duplicate checks. A compacted part holds
        // every segment of its range [minSeq, seq].
        List<SealedPart> withDetail = next.parts(PartKind.DETAIL);
        Set<Long> live = liveSeqs();
        Map<Long, Boolean> dead = new ConcurrentHashMap<>(); // few seqs, many keys
        long purged = dedup.purge(seq -> dead.computeIfAbsent(seq,
                k -> !live.contains(k) && withDetail.stream().noneMatch(p -> p.coversSeq(k))));
        if (purged > 0) {
            log.info("dedup index: dropped {} ids of deleted detail", purged);
        }
    }

    /** Deletes a part that left the manifest once no reader pins it; part-deleted listeners drop cache entries then. */
    private void retirePart(PartHandle h, String reason) {
        if (h == null) {
            return;
        }
        draining.add(h.file());
        h.retire(reason, () -> {
            draining.remove(h.file());
            notifyPartDeleted(h.part());
        });
    }

    /** See {@link TieredStore#onPartDeleted}. */
    AutoCloseable onPartDeleted(Consumer<? super PartInfo> listener) {
        Objects.requireNonNull(listener, "listener");
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

    // ---------------------------------------------------------------- damaged parts (see PartChecks)

    /** Takes a damaged part out of the manifest and the view and moves its file to quarantine/. */
    void quarantine(SealedPart part, String reason) {
        maintenanceLock.lock();
        try {
            Manifest manifest = tiers.manifest();
            if (manifest.parts().stream().noneMatch(p -> p.path().equals(part.path()))) {
                return; // already done by another reader
            }
            Instant now = config.clock().instant();
            Manifest next = manifest.withQuarantined(part, reason, now).withDetailLost(List.of(part));
            next.write(files.manifest());
            tiers.manifest(next);
            PartHandle h;
            synchronized (tiers.lock()) {
                h = tiers.partsLocked().remove(part.path());
                tiers.publishLocked();
            }
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

    // ---------------------------------------------------------------- lifecycle

    /**
     * Closes the store in lock order: stops taking seal tasks, then under the maintenance lock lets
     * the writer mark the store closed under the gate, then waits for a running seal task.
     * Returns false if another thread closed the store first.
     */
    boolean close() {
        if (ownedExecutor != null) {
            ownedExecutor.shutdown();
        }
        maintenanceLock.lock();
        try {
            if (!writer.closeGated()) {
                return false; // closed by another thread meanwhile
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
        return true;
    }

    /** Stops the seal executor it owns without waiting, as a crash would. */
    void abandon() {
        if (ownedExecutor != null) {
            ownedExecutor.shutdownNow();
        }
    }
}
