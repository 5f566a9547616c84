package dev.tally.store.internal;

import java.time.Duration;
import java.time.Instant;
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
 * <p>Thread-safe: stateless.
 */
public final class DetailCoverage {
    private DetailCoverage() {
    }

    /** The days (UTC) in {@code [from, to)} whose detail is gone while rollups remain; empty when complete. */
    public static List<String> lostDays(TierView view, Instant from, Instant to) {
        Set<String> detail = new HashSet<>();
        for (SealedPart p : view.manifest().parts(PartKind.DETAIL)) {
            detail.add(p.seq() + "/" + p.day());
        }
        // A rollup part's maxTime is the start of its newest hour: widen by an hour to catch it.
        Instant widened = from.minus(Duration.ofHours(1));
        TreeSet<String> days = new TreeSet<>();
        for (SealedPart p : view.manifest().parts(PartKind.ROLLUP)) {
            if (p.overlaps(widened, to) && !detail.contains(p.seq() + "/" + p.day())) {
                days.add(p.day().toString());
            }
        }
        return new ArrayList<>(days);
    }

    /** The first instant after every lost day in {@code [from, to)}, or null when none is lost. */
    public static Instant completeFrom(TierView view, Instant from, Instant to) {
        Instant out = null;
        Set<String> detail = new HashSet<>();
        for (SealedPart p : view.manifest().parts(PartKind.DETAIL)) {
            detail.add(p.seq() + "/" + p.day());
        }
        Instant widened = from.minus(Duration.ofHours(1));
        for (SealedPart p : view.manifest().parts(PartKind.ROLLUP)) {
            if (p.overlaps(widened, to) && !detail.contains(p.seq() + "/" + p.day())) {
                Instant end = p.maxTime().plus(Duration.ofHours(1));
                out = out == null || end.isAfter(out) ? end : out;
            }
        }
        return out;
    }
}
