package dev.tally.store.internal;

import dev.tally.store.StoreConfig;
import dev.tally.store.UsageStore;
import java.nio.file.Path;
import java.time.Clock;

/** Opens real stores with test hooks for tests outside this package. Sealing runs inline. */
public final class TestStores {
    private TestStores() {
    }

    public static StoreConfig config(Path dir, Clock clock, long maxSegmentBytes) {
        // The builder's defaults, except a small result cache.
        return UsageStore.builder(dir).clock(clock).maxSegmentBytes(maxSegmentBytes).segmentCacheEntries(1_000)
                .config();
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
