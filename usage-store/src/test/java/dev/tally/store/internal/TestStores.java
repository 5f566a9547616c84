package dev.tally.store.internal;

import dev.tally.store.StoreConfig;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;

/** Opens real stores with test hooks for tests outside this package. Sealing runs inline. */
public final class TestStores {
    private TestStores() {
    }

    public static StoreConfig config(Path dir, Clock clock, long maxSegmentBytes) {
        return new StoreConfig(dir, maxSegmentBytes, Duration.ofHours(1), Duration.ofDays(35), Duration.ofDays(400),
                Duration.ofDays(35), Duration.ofMinutes(5), Duration.ofHours(1), Duration.ofDays(1), 1_000, false,
                clock);
    }

    public static TieredStore open(Path dir, Clock clock) {
        return TieredStore.open(config(dir, clock, 64L << 20), Runnable::run, TieredStore.DEFAULT_HOOKS);
    }

    /** A store whose active segment rolls over at {@code maxSegmentBytes}; sealing runs inline. */
    public static TieredStore open(Path dir, Clock clock, long maxSegmentBytes) {
        return TieredStore.open(config(dir, clock, maxSegmentBytes), Runnable::run, TieredStore.DEFAULT_HOOKS);
    }

    /** A store whose appends call {@code seam} between writing and committing. */
    public static TieredStore open(Path dir, Clock clock, AppendSeam seam) {
        return TieredStore.open(config(dir, clock, 64L << 20), Runnable::run, TieredStore.DEFAULT_HOOKS.withSeam(seam));
    }

    /** Every stored tenant/id with how often it is stored, across all tiers. */
    public static java.util.Map<String, Integer> idCounts(TieredStore store) throws Exception {
        return TierScan.idCounts(store);
    }
}
