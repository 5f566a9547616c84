package dev.tally.store.read;

import java.time.Instant;
import java.util.List;

/**
 * An immutable, pinned snapshot of every tier: the active and pending segments and the published
 * parts. Each stored event is in exactly one of them. Obtained from
 * {@link StoreReader#acquireView()}; {@link #close()} releases the pin (exactly once), after
 * which retired files may be deleted.
 *
 * <p>Thread-safe.
 */
public interface ReadView extends AutoCloseable {
    /** The active segment (if any) followed by the pending ones. */
    List<? extends SegmentSource> segments();

    /** Published detail parts that may hold events in {@code [from, to)}, pruned by time range. */
    List<? extends PartFile> detailParts(Instant from, Instant to);

    /** Published hourly rollup parts whose hours may fall in {@code [from, to)}. */
    List<? extends PartFile> rollupParts(Instant from, Instant to);

    /** Parts removed as damaged, with why and when; their rows are missing from every answer. */
    List<? extends QuarantinedPart> quarantined();

    /**
     * Why every answer read through this view misses rows whatever its range, one line each (a
     * damaged active segment the store opened without); empty normally. Readers pass them on as
     * "partial" warnings.
     */
    default List<String> missingTiers() {
        return List.of();
    }

    /**
     * Why an answer over {@code [from, to)} read through this view may miss rows, one line each,
     * every line starting with {@code "partial: "}: the {@link #missingTiers()} and each quarantined
     * part whose events overlap the range. Empty when the answer is whole. SQL and meter answers
     * carry these as their warnings and set their partial flag when any is present.
     */
    default List<String> partialWarnings(Instant from, Instant to) {
        return partialWarnings(from, to, true, true);
    }

    /**
     * Like {@link #partialWarnings(Instant, Instant)}, counting only quarantined parts of the kinds
     * the answer read: an answer from hourly rollups misses nothing when only a detail part is gone.
     */
    default List<String> partialWarnings(Instant from, Instant to, boolean rollups, boolean detail) {
        List<String> out = new java.util.ArrayList<>(missingTiers());
        for (QuarantinedPart q : quarantined()) {
            if ((q.part().rollup() ? rollups : detail) && q.part().minTime() != null && q.part().maxTime() != null && q.part().minTime().isBefore(to)
                    && !q.part().maxTime().isBefore(from)) {
                out.add("partial: archive part " + q.part().path() + " (" + (q.part().rollup() ? "rollup" : "detail")
                        + ", events " + q.part().minTime() + ".." + q.part().maxTime() + ") is quarantined as damaged "
                        + "since " + q.at() + "; rows in it are missing from this answer");
            }
        }
        return List.copyOf(out);
    }

    /**
     * The UTC days in {@code [from, to)} whose hourly rollups remain but whose detail is gone
     * (retention, quarantine); empty when detail is complete there. A reader that needs every
     * event refuses such a range instead of answering short.
     */
    List<String> lostDetailDays(Instant from, Instant to);

    /** The first instant after every lost detail day in {@code [from, to)}, or null when none is lost. */
    Instant detailCompleteFrom(Instant from, Instant to);

    /** Releases the pin; call exactly once per acquire. */
    @Override
    void close();
}
