package dev.tally.store.internal;

import dev.tally.store.SegmentInfo;
import dev.tally.store.StoreException;
import dev.tally.store.io.FileSync;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The store's in-memory tiers (Kafka's {@code LocalLog}): the active segment, the pending
 * segments, the open part handles, the published manifest, and the {@link TierView} readers pin.
 * {@link StoreWriter} and {@link StoreMaintenance} change it; readers only pin its view.
 *
 * <p>Thread-safe. It owns {@code stateLock} (its {@link #lock()} monitor), which guards
 * {@code pending}, {@code parts} and the publication of a new view; it is held only for
 * in-memory swaps, never across I/O, and is the last lock but a dedup shard's in the lock order.
 * {@code active} is written only under the write gate ({@link StoreWriter}); {@code manifest}
 * only under the maintenance lock ({@link StoreMaintenance}, the manifest's owner). Both are
 * volatile so that checks outside those locks see the latest value.
 */
final class TierState {
    private final Object stateLock = new Object();
    private final SegmentFiles files;
    private final boolean readOnly;

    // Guarded by stateLock.
    private final List<SegmentHandle> pending = new ArrayList<>();
    private final Map<String, PartHandle> parts = new HashMap<>();
    private volatile TierView view;

    // Written under the write gate (and stateLock when swapped in).
    private volatile SegmentHandle active;
    // Written under the maintenance lock; read under stateLock or through a view.
    private volatile Manifest manifest;
    private volatile boolean closed;
    // Set once on install: the active segment that did not open (the store is degraded), or null.
    private volatile StoreLoader.DamagedSegment damaged;

    TierState(SegmentFiles files, boolean readOnly) {
        this.files = files;
        this.readOnly = readOnly;
    }

    /** The {@code stateLock} monitor. */
    Object lock() {
        return stateLock;
    }

    /** Installs what recovery attached and publishes the first view; before the store is shared. */
    void install(StoreLoader.Loaded loaded) {
        manifest = loaded.manifest();
        active = loaded.active();
        damaged = loaded.damaged();
        synchronized (stateLock) {
            for (SealedPart p : manifest.parts()) {
                parts.put(p.path(), handle(p));
            }
            pending.addAll(loaded.pending());
            publishLocked();
        }
    }

    /** A handle for a part the manifest names; its path is checked to stay inside the data directory. */
    PartHandle handle(SealedPart p) {
        return new PartHandle(p, FileSync.resolveInside(files.root(), p.path()));
    }

    SegmentHandle active() {
        return active;
    }

    /** Swaps in a new active segment. Caller holds the write gate and stateLock. */
    void activeLocked(SegmentHandle fresh) {
        active = fresh;
    }

    Manifest manifest() {
        return manifest;
    }

    /** Replaces the published manifest. Caller holds the maintenance lock and wrote the file first. */
    void manifest(Manifest next) {
        manifest = next;
    }

    /** The pending segments. Caller holds stateLock. */
    List<SegmentHandle> pendingLocked() {
        return pending;
    }

    /** The open part handles by path. Caller holds stateLock. */
    Map<String, PartHandle> partsLocked() {
        return parts;
    }

    /** The current view, unpinned. Caller holds stateLock (or only reads its segment list). */
    TierView view() {
        return view;
    }

    boolean closed() {
        return closed;
    }

    void markClosed() {
        closed = true;
    }

    /** Refuses {@code operation} on a report-only or closed store. */
    /** The active segment that did not open on load (the store is degraded), or null. */
    StoreLoader.DamagedSegment damaged() {
        return damaged;
    }

    /**
     * Like {@link #checkWritable}, for operations that write the active segment (appends, import
     * positions, rollover): refused while it is damaged, naming the repair.
     */
    void checkAppendable(String operation) {
        checkWritable(operation);
        StoreLoader.DamagedSegment d = damaged;
        if (d != null) {
            throw new dev.tally.store.DamagedActiveSegmentException(operation, d.seq(), d.reason(), d.pending());
        }
    }

    void checkWritable(String operation) {
        if (readOnly) {
            throw new dev.tally.store.ReadOnlyStoreException(operation);
        }
        if (closed) {
            throw new StoreException("the store is closed; '" + operation + "' was not done");
        }
    }

    /** Pins the current view; the caller must {@link TierView#release()} it. */
    TierView acquireView() {
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
    void publishLocked() {
        StoreLoader.DamagedSegment d = damaged;
        TierView next = new TierView(active, pending, manifest, parts, d == null ? List.of()
                : List.of("partial: " + d.role() + " " + files.root().relativize(files.segment(d.seq()))
                        + " is damaged (" + d.reason() + ")" + (d.heldBack().isEmpty() ? ""
                                : " and the segments " + d.heldBack() + " above it are not read")
                        + "; events stored only there are missing from this answer until '"
                        + dev.tally.store.DamagedActiveSegmentException.REPAIR
                        + "' and the next import rebuild them from the journal"));
        TierView prev = view;
        view = next;
        if (prev != null) {
            prev.release();
        }
    }

    /** Every tier as the public listing: live segments, published parts, quarantined parts. */
    List<SegmentInfo> segments() {
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

    /** Drops the view and detaches every handle (files stay); the store is closing or abandoned. */
    void detachAll() {
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
    }
}
