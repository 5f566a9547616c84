package dev.tally.store.internal;

import dev.tally.store.StoreConfig;
import dev.tally.store.UsageStoreBuilder;
import dev.tally.store.testing.MutableClock;
import java.nio.file.Path;
import java.time.Duration;
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
        return new StoreConfig(dir, maxSegmentBytes, Duration.ofHours(1), Duration.ofDays(35), Duration.ofDays(400),
                Duration.ofDays(35), Duration.ofMinutes(5), Duration.ofHours(1), Duration.ofDays(1), 1_000, false,
                clock);
    }

    static TieredStore open(StoreConfig config) {
        return TieredStore.open(config, Runnable::run, TieredStore.DEFAULT_HOOKS);
    }

    static TieredStore open(StoreConfig config, TieredStore.Hooks hooks) {
        return TieredStore.open(config, Runnable::run, hooks);
    }
}
