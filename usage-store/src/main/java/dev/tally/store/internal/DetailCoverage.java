package dev.tally.store.internal;

import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * Which days in a range have hourly rollups but no detail any more (retention deleted it, or the
 * sealer never wrote it because it was already past the cutoff). A reader that needs every event
 * there would return a silently short answer; it asks here first and refuses instead.
 *
 * <p>A sealed rollup part (one segment, one day) has its detail when a sealed detail part of the
 * same segment and day exists, or a compacted detail part whose segment range and days hold them.
 * A compacted rollup part carries its own record ({@link SealedPart#lostDetailDays()}): set when
 * it is compacted, and extended whenever a detail part leaves the manifest
 * ({@link Manifest#withDetailLost}). Compaction merges a day's rollups before its detail, so a
 * compacted detail part never stands for a sealed rollup part of a segment it does not hold: a
 * sealed rollup part left beside a compacted detail part of its day was sealed after it, with a
 * higher sequence than the detail part's range.
 *
 * <p>Thread-safe: stateless.
 */
public final class DetailCoverage {
    private DetailCoverage() {
    }

    /** The detail parts of a manifest, indexed for "does detail of this segment and day exist". */
    static final class Index {
        private final Set<String> sealed = new HashSet<>();
        private final List<SealedPart> compacted = new ArrayList<>();

        static Index of(Manifest m) {
            Index ix = new Index();
            for (SealedPart p : m.parts(PartKind.DETAIL)) {
                if (p.compacted()) {
                    ix.compacted.add(p);
                } else {
                    ix.sealed.add(p.seq() + "/" + p.day());
                }
            }
            return ix;
        }

        boolean covers(long seq, LocalDate day) {
            if (sealed.contains(seq + "/" + day)) {
                return true;
            }
            for (SealedPart p : compacted) {
                if (p.coversSeq(seq) && !day.isBefore(p.firstDay()) && !day.isAfter(p.lastDay())) {
                    return true;
                }
            }
            return false;
        }
    }

    /** The days (UTC) in {@code [from, to)} whose detail is gone while rollups remain; empty when complete. */
    public static List<String> lostDays(TierView view, Instant from, Instant to) {
        TreeSet<String> days = new TreeSet<>();
        for (Lost l : lost(view, from, to)) {
            days.add(l.day.toString());
        }
        return new ArrayList<>(days);
    }

    /** The first instant after every lost day in {@code [from, to)}, or null when none is lost. */
    public static Instant completeFrom(TierView view, Instant from, Instant to) {
        Instant out = null;
        for (Lost l : lost(view, from, to)) {
            out = out == null || l.end.isAfter(out) ? l.end : out;
        }
        return out;
    }

    private record Lost(LocalDate day, Instant end) {
    }

    private static List<Lost> lost(TierView view, Instant from, Instant to) {
        Index detail = Index.of(view.manifest());
        // A rollup part's maxTime is the start of its newest hour: widen by an hour to catch it.
        Instant widened = from.minus(Duration.ofHours(1));
        List<Lost> out = new ArrayList<>();
        for (SealedPart p : view.manifest().parts(PartKind.ROLLUP)) {
            if (!p.overlaps(widened, to)) {
                continue;
            }
            if (p.compacted()) {
                for (LocalDate d : p.lostDetailDays()) {
                    Instant start = d.atStartOfDay(ZoneOffset.UTC).toInstant();
                    Instant end = d.plusDays(1).atStartOfDay(ZoneOffset.UTC).toInstant();
                    if (end.isAfter(widened) && start.isBefore(to)) {
                        out.add(new Lost(d, end));
                    }
                }
            } else if (!detail.covers(p.seq(), p.day())) {
                out.add(new Lost(p.day(), p.maxTime().plus(Duration.ofHours(1))));
            }
        }
        return out;
    }
}
