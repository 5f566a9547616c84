package dev.tally.store;

import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Objects;

/**
 * The settings of one store, validated by {@link UsageStoreBuilder}. Immutable.
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
}
