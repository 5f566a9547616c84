package dev.tally.store.internal;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * An immutable snapshot of every tier: the active segment, the pending segments, and the
 * published parts. Each row of the store is in exactly one of them in any one view, and the
 * store swaps views atomically, so a reader that plans a query on one view sees every row
 * exactly once, even while a seal or retention runs.
 *
 * <p>A view pins the handles it names; readers pin the view with {@link #tryRetain()} (via the
 * store) and release it when done. Thread-safe.
 */
public final class TierView extends RefCounted implements dev.tally.store.read.ReadView {
    private final SegmentHandle active;
    private final List<SegmentHandle> pending;
    private final Manifest manifest;
    private final Map<String, PartHandle> parts;
    private final List<String> missingTiers;

    TierView(SegmentHandle active, List<SegmentHandle> pending, Manifest manifest, Map<String, PartHandle> parts) {
        this(active, pending, manifest, parts, List.of());
    }

    TierView(SegmentHandle active, List<SegmentHandle> pending, Manifest manifest, Map<String, PartHandle> parts,
            List<String> missingTiers) {
        this.missingTiers = List.copyOf(missingTiers);
        this.active = active;
        this.pending = List.copyOf(pending);
        this.manifest = manifest;
        this.parts = Map.copyOf(parts);
        if (active != null) {
            active.retain();
        }
        this.pending.forEach(SegmentHandle::retain);
        this.parts.values().forEach(PartHandle::retain);
    }

    public SegmentHandle active() {
        return active;
    }

    public List<SegmentHandle> pending() {
        return pending;
    }

    /** The active segment followed by the pending ones. */
    public List<SegmentHandle> segments() {
        List<SegmentHandle> all = new ArrayList<>(pending.size() + 1);
        if (active != null) {
            all.add(active);
        }
        all.addAll(pending);
        return all;
    }

    public Manifest manifest() {
        return manifest;
    }

    /** The part handle for a published part path. */
    public PartHandle part(String path) {
        return parts.get(path);
    }

    /** Published parts of a kind that may hold rows in {@code [from, to)}, pruned by time range. */
    public List<PartHandle> parts(PartKind kind, Instant from, Instant to) {
        List<PartHandle> out = new ArrayList<>();
        for (SealedPart p : manifest.parts()) {
            if (p.kind() == kind && p.overlaps(from, to)) {
                out.add(parts.get(p.path()));
            }
        }
        return out;
    }

    /**
     * Published detail parts that hold rows of one segment sequence: its sealed parts and any
     * compacted part whose range {@code [minSeq, seq]} covers it.
     */
    public List<PartHandle> detailParts(long seq) {
        List<PartHandle> out = new ArrayList<>();
        for (SealedPart p : manifest.parts()) {
            if (p.kind() == PartKind.DETAIL && p.coversSeq(seq)) {
                out.add(parts.get(p.path()));
            }
        }
        return out;
    }

    @Override
    public List<PartHandle> detailParts(Instant from, Instant to) {
        return parts(PartKind.DETAIL, from, to);
    }

    @Override
    public List<PartHandle> rollupParts(Instant from, Instant to) {
        return parts(PartKind.ROLLUP, from, to);
    }

    @Override
    public List<Manifest.Quarantined> quarantined() {
        return manifest.quarantined();
    }

    @Override
    public List<String> missingTiers() {
        return missingTiers;
    }

    @Override
    public List<String> lostDetailDays(Instant from, Instant to) {
        return DetailCoverage.lostDays(this, from, to);
    }

    @Override
    public Instant detailCompleteFrom(Instant from, Instant to) {
        return DetailCoverage.completeFrom(this, from, to);
    }

    /** The active or pending segment with this sequence, or null. */
    public SegmentHandle segment(long seq) {
        for (SegmentHandle h : segments()) {
            if (h.seq() == seq) {
                return h;
            }
        }
        return null;
    }

    /**
     * Releases the pin taken by {@link TieredStore#acquireView()}; for readers outside this
     * package, which cannot call {@code release()}. Call exactly once per acquire.
     */
    @Override
    public void close() {
        release();
    }

    @Override
    protected void onLastRelease() {
        if (active != null) {
            active.release();
        }
        pending.forEach(SegmentHandle::release);
        parts.values().forEach(PartHandle::release);
    }
}
