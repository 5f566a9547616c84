package dev.tally.worker.config;

import dev.tally.store.UsageStore;
import dev.tally.store.UsageStoreBuilder;
import dev.tally.store.journal.FsyncPolicy;
import dev.tally.store.journal.JournalConfig;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Collections;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The worker's validated settings. Immutable; values are parsed once by {@link ConfigLoader},
 * and {@link #origin} tells where each came from (default, file, environment, flag).
 *
 * <p>Thread-safe: immutable.
 */
public final class WorkerConfig {
    /** How the journal acknowledges an append. */
    public record FsyncMode(boolean perBatch, Duration interval) {
        @Override
        public String toString() {
            return perBatch ? "per-batch" : "interval:" + Values.format(interval);
        }
    }

    private final Map<Setting, Object> values;
    private final Map<Setting, String> origins;
    private final ShardMap shards;

    WorkerConfig(Map<Setting, Object> values, Map<Setting, String> origins, ShardMap shards) {
        this.values = Collections.unmodifiableMap(new EnumMap<>(values));
        this.origins = Collections.unmodifiableMap(new EnumMap<>(origins));
        this.shards = shards;
    }

    /** The shard map (shard.id with shard.map-file), or empty when this worker owns every tenant. */
    public Optional<ShardMap> shards() {
        return Optional.ofNullable(shards);
    }

    public Object get(Setting s) {
        return values.get(s);
    }

    public String origin(Setting s) {
        return origins.get(s);
    }

    public Path path(Setting s) {
        return (Path) values.get(s);
    }

    @SuppressWarnings("unchecked")
    public List<Path> paths(Setting s) {
        return (List<Path>) values.get(s);
    }

    public Duration duration(Setting s) {
        return (Duration) values.get(s);
    }

    public long size(Setting s) {
        return (Long) values.get(s);
    }

    public int count(Setting s) {
        return ((Long) values.get(s)).intValue();
    }

    public int port(Setting s) {
        return (Integer) values.get(s);
    }

    public String string(Setting s) {
        return (String) values.get(s);
    }

    public Path dataDir() {
        return path(Setting.DATA_DIR);
    }

    public FsyncMode journalFsync() {
        return (FsyncMode) values.get(Setting.JOURNAL_FSYNC);
    }

    /** The journal settings: its folder is {@code journal/} under the data directory. */
    public JournalConfig journalConfig(Clock clock) {
        FsyncMode mode = journalFsync();
        return JournalConfig.builder(dataDir())
                .fsyncPolicy(mode.perBatch() ? FsyncPolicy.PER_BATCH : FsyncPolicy.interval(mode.interval()))
                .maxJournalBytes(size(Setting.JOURNAL_MAX_BYTES))
                .maxJournalAge(duration(Setting.JOURNAL_MAX_AGE))
                .maxRecordBytes((int) Math.min(JournalConfig.MAX_RECORD_BYTES,
                        Math.max(JournalConfig.MIN_RECORD_BYTES, size(Setting.IMPORT_MAX_LINE_BYTES))))
                .clock(clock)
                .build();
    }

    /** The logging format, {@code text} or {@code json}. */
    public String logFormat() {
        return string(Setting.LOG_FORMAT);
    }

    /** A store builder with every store-level setting applied. */
    public UsageStoreBuilder storeBuilder(Clock clock) {
        return UsageStore.builder(dataDir())
                .maxSegmentBytes(size(Setting.SEGMENT_MAX_BYTES))
                .maxSegmentAge(duration(Setting.SEGMENT_MAX_AGE))
                .detailRetention(duration(Setting.RETENTION_DETAIL))
                .rollupRetention(duration(Setting.RETENTION_ROLLUPS))
                .maxEventAge(duration(Setting.EVENTS_MAX_AGE))
                .maxClockSkew(duration(Setting.EVENTS_MAX_CLOCK_SKEW))
                .orphanGracePeriod(duration(Setting.ORPHAN_GRACE))
                .compactAfter(duration(Setting.COMPACT_AFTER))
                .segmentCacheEntries(size(Setting.CACHE_SEGMENT_ENTRIES))
                .clock(clock);
    }
}
