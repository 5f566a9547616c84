package dev.tally.store.internal;

import dev.tally.store.dedup.DedupIndex;

import dev.tally.store.StoreConfig;
import dev.tally.store.engine.Engine;

/**
 * What every part of one open store shares: its configuration, files, DuckDB engine, dedup
 * index, counters and crash seam. Made once by {@link TieredStore} and handed to the writer,
 * maintenance and loaders, so none of them takes a long constructor.
 *
 * <p>Thread-safe as its members are.
 */
record StoreContext(StoreConfig config, SegmentFiles files, Engine engine, DedupIndex dedup, StoreMetrics metrics,
        CrashPoint crash) {
}
