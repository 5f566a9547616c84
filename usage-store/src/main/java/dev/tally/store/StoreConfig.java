package dev.tally.store;

import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * The settings of one store, validated by {@link UsageStoreBuilder}. Immutable.
 *
 * <p>Each setting is checked on its own where it is set (the builder's setters, the worker's
 * configuration loader); the rules between settings live here once, in {@link #crossCheck}, which
 * both call and report in their own words (field names or setting keys).
 *
 * <p>See {@code docs/configuration.md} for the table of names, meanings, defaults and units.
 *
 * @param dataDir             root folder of the store; everything it writes stays below it
 * @param maxSegmentBytes     seal the active segment when its files grew by this much over the empty file
 * @param maxSegmentAge       seal the active segment when it is this old (checked by maintenance)
 * @param detailRetention     delete sealed detail whose newest event is older than this; also the
 *                            dedup window
 * @param rollupRetention     delete hourly rollups older than this
 * @param maxEventAge         refuse events older than this on append
 * @param maxClockSkew        refuse events further ahead than this on append
 * @param orphanGracePeriod   unreferenced files younger than this are never deleted
 * @param compactAfter        maintenance compacts a UTC day's sealed parts once the day ended this long ago
 * @param segmentCacheEntries how many per-segment read results to cache
 * @param readOnly            report-only: every write entry point is refused
 * @param clock               the time source; injected by tests
 */
public record StoreConfig(
        Path dataDir,
        long maxSegmentBytes,
        Duration maxSegmentAge,
        Duration detailRetention,
        Duration rollupRetention,
        Duration maxEventAge,
        Duration maxClockSkew,
        Duration orphanGracePeriod,
        Duration compactAfter,
        long segmentCacheEntries,
        boolean readOnly,
        Clock clock) {

    public StoreConfig {
        Objects.requireNonNull(dataDir, "dataDir");
        Objects.requireNonNull(maxSegmentAge, "maxSegmentAge");
        Objects.requireNonNull(detailRetention, "detailRetention");
        Objects.requireNonNull(rollupRetention, "rollupRetention");
        Objects.requireNonNull(maxEventAge, "maxEventAge");
        Objects.requireNonNull(maxClockSkew, "maxClockSkew");
        Objects.requireNonNull(orphanGracePeriod, "orphanGracePeriod");
        Objects.requireNonNull(compactAfter, "compactAfter");
        Objects.requireNonNull(clock, "clock");
    }

    /** A rule between settings, each valid on its own, that they may break together. */
    public enum CrossCheck {
        /** {@code maxEventAge} is longer than {@code detailRetention}. */
        MAX_EVENT_AGE_OVER_DETAIL_RETENTION(
                "an event older than the retained detail could not be checked for duplicates"),
        /** {@code rollupRetention} is shorter than {@code detailRetention}. */
        ROLLUPS_SHORTER_THAN_DETAIL("rollups must outlive the detail they summarize");

        private final String why;

        CrossCheck(String why) {
            this.why = why;
        }

        /** Why the rule exists, for the end of an error message. */
        public String why() {
            return why;
        }
    }

    /**
     * The rules between settings that these values break, in {@link CrossCheck} order; empty when
     * they go together.
     */
    public static List<CrossCheck> crossCheck(Duration detailRetention, Duration rollupRetention,
            Duration maxEventAge) {
        List<CrossCheck> broken = new ArrayList<>(2);
        if (maxEventAge.compareTo(detailRetention) > 0) {
            broken.add(CrossCheck.MAX_EVENT_AGE_OVER_DETAIL_RETENTION);
        }
        if (rollupRetention.compareTo(detailRetention) < 0) {
            broken.add(CrossCheck.ROLLUPS_SHORTER_THAN_DETAIL);
        }
        return broken;
    }
}
