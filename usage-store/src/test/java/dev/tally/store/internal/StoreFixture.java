package dev.tally.store.internal;

import dev.tally.store.StoreConfig;
import dev.tally.store.UsageStore;
import dev.tally.store.UsageStoreBuilder;
import dev.tally.store.testing.MutableClock;
import java.nio.file.Path;
import java.time.Instant;

/** Opens stores on real files with a hand-moved clock and inline sealing. */
final class StoreFixture {
    static final Instant NOW = Instant.parse("2026-11-20T12:00:00Z");

    private StoreFixture() {
    }

    static StoreConfig config(Path dir, MutableClock clock) {
        return config(dir, clock, UsageStoreBuilder.DEFAULT_MAX_SEGMENT_BYTES);
    }

    static StoreConfig config(Path dir, MutableClock clock, long maxSegmentBytes) {
        // The builder's defaults, except a small result cache.
        return UsageStore.builder(dir).clock(clock).maxSegmentBytes(maxSegmentBytes).segmentCacheEntries(1_000)
                .config();
    }

    static TieredStore open(StoreConfig config) {
        return TieredStore.open(config, Runnable::run, TieredStore.DEFAULT_HOOKS);
    }

    static TieredStore open(StoreConfig config, TieredStore.Hooks hooks) {
        return TieredStore.open(config, Runnable::run, hooks);
    }
}
