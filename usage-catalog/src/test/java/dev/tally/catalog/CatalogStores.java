package dev.tally.catalog;

import dev.tally.store.UsageStore;
import dev.tally.store.testing.MutableClock;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;

/** Stores and clocks for the catalog tests. */
final class CatalogStores {
    static final Instant NOW = Instant.parse("2026-11-20T12:00:00Z");

    private CatalogStores() {
    }

    static UsageStore open(Path dir, MutableClock clock) {
        return UsageStore.builder(dir).clock(clock)
                .detailRetention(Duration.ofDays(35)).rollupRetention(Duration.ofDays(400)).build();
    }
}
