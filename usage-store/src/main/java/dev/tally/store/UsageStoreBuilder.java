package dev.tally.store;

import dev.tally.store.internal.ReadOnlySnapshot;
import dev.tally.store.internal.StoreSnapshot;
import dev.tally.store.internal.TieredStore;
import dev.tally.store.read.Snapshot;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.Executor;

/**
 * Builds a {@link UsageStore}. Each setter checks its value at once and names the setting and the
 * bad value in its exception, so a mistake is reported where it was made:
 *
 * <pre>{@code
 * UsageStore store = UsageStore.builder(Path.of("/var/lib/tally"))
 *         .maxSegmentBytes(64L << 20)
 *         .detailRetention(Duration.ofDays(35))
 *         .build();
 * }</pre>
 *
 * <p>Not thread-safe; build once and share the store.
 */
public final class UsageStoreBuilder {
    public static final long DEFAULT_MAX_SEGMENT_BYTES = 64L << 20;
    public static final Duration DEFAULT_MAX_SEGMENT_AGE = Duration.ofHours(1);
    public static final Duration DEFAULT_DETAIL_RETENTION = Duration.ofDays(35);
    public static final Duration DEFAULT_ROLLUP_RETENTION = Duration.ofDays(400);
    public static final Duration DEFAULT_MAX_EVENT_AGE = Duration.ofDays(35);
    public static final Duration DEFAULT_MAX_CLOCK_SKEW = Duration.ofMinutes(5);
    public static final Duration DEFAULT_ORPHAN_GRACE_PERIOD = Duration.ofHours(1);
    public static final long DEFAULT_SEGMENT_CACHE_ENTRIES = 10_000;
    /**
     * A day is compacted a day after it ended: late events (clock skew, a producer catching up)
     * have mostly arrived and been sealed by then, and a part sealed later is merged next time.
     */
    public static final Duration DEFAULT_COMPACT_AFTER = Duration.ofDays(1);

    /** Smallest segment size accepted; smaller ones would seal on nearly every batch. */
    public static final long MIN_SEGMENT_BYTES = 1L << 20;

    private final Path dataDir;
    private long maxSegmentBytes = DEFAULT_MAX_SEGMENT_BYTES;
    private Duration maxSegmentAge = DEFAULT_MAX_SEGMENT_AGE;
    private Duration detailRetention = DEFAULT_DETAIL_RETENTION;
    private Duration rollupRetention = DEFAULT_ROLLUP_RETENTION;
    private Duration maxEventAge = DEFAULT_MAX_EVENT_AGE;
    private Duration maxClockSkew = DEFAULT_MAX_CLOCK_SKEW;
    private Duration orphanGracePeriod = DEFAULT_ORPHAN_GRACE_PERIOD;
    private long segmentCacheEntries = DEFAULT_SEGMENT_CACHE_ENTRIES;
    private Duration compactAfter = DEFAULT_COMPACT_AFTER;
    private boolean readOnly;
    private Clock clock = Clock.systemUTC();
    private Executor sealExecutor;

    UsageStoreBuilder(Path dataDir) {
        this.dataDir = Objects.requireNonNull(dataDir, "dataDir").toAbsolutePath().normalize();
    }

    /** Seal the active segment once its {@code .duckdb} plus {@code .wal} grew by this many bytes (over the empty file). */
    public UsageStoreBuilder maxSegmentBytes(long bytes) {
        if (bytes < MIN_SEGMENT_BYTES) {
            throw new IllegalArgumentException("maxSegmentBytes = " + bytes + " is below the minimum of "
                    + MIN_SEGMENT_BYTES + " bytes (1 MiB)");
        }
        this.maxSegmentBytes = bytes;
        return this;
    }

    /** Seal the active segment once it is this old; checked by {@link UsageStore#maintain()}. */
    public UsageStoreBuilder maxSegmentAge(Duration age) {
        this.maxSegmentAge = positive("maxSegmentAge", age);
        return this;
    }

    /** Keep sealed detail this long after its newest event; also the dedup window. */
    public UsageStoreBuilder detailRetention(Duration retention) {
        this.detailRetention = positive("detailRetention", retention);
        return this;
    }

    /** Keep hourly rollups this long after their newest hour. */
    public UsageStoreBuilder rollupRetention(Duration retention) {
        this.rollupRetention = positive("rollupRetention", retention);
        return this;
    }

    /** Refuse events whose time is older than this on append. */
    public UsageStoreBuilder maxEventAge(Duration age) {
        this.maxEventAge = positive("maxEventAge", age);
        return this;
    }

    /** Refuse events whose time is further ahead of the clock than this. */
    public UsageStoreBuilder maxClockSkew(Duration skew) {
        Objects.requireNonNull(skew, "maxClockSkew");
        if (skew.isNegative()) {
            throw new IllegalArgumentException("maxClockSkew = " + skew + " must not be negative");
        }
        this.maxClockSkew = skew;
        return this;
    }

    /** Files no manifest names are deleted only when older than this. */
    public UsageStoreBuilder orphanGracePeriod(Duration grace) {
        this.orphanGracePeriod = positive("orphanGracePeriod", grace);
        return this;
    }

    /**
     * {@link UsageStore#maintain()} merges a UTC day's sealed parts into its compaction unit (a
     * month of rollups, a week of detail) once the day ended this long ago. Zero compacts every
     * closed day at the next maintenance.
     */
    public UsageStoreBuilder compactAfter(Duration after) {
        Objects.requireNonNull(after, "compactAfter");
        if (after.isNegative()) {
            throw new IllegalArgumentException("compactAfter = " + after + " must not be negative");
        }
        this.compactAfter = after;
        return this;
    }

    /** How many per-part results of {@link UsageStore#total} to keep in memory. */
    public UsageStoreBuilder segmentCacheEntries(long entries) {
        if (entries < 0) {
            throw new IllegalArgumentException("segmentCacheEntries = " + entries + " must not be negative");
        }
        this.segmentCacheEntries = entries;
        return this;
    }

    /** Report-only: open for reading and refuse every write entry point. */
    public UsageStoreBuilder readOnly(boolean readOnly) {
        this.readOnly = readOnly;
        return this;
    }

    /** The time source for event bounds, segment age and retention; tests inject their own. */
    public UsageStoreBuilder clock(Clock clock) {
        this.clock = Objects.requireNonNull(clock, "clock");
        return this;
    }

    /**
     * Where sealing runs after a size-triggered rollover. By default a single daemon thread of the
     * store; tests pass a direct or manual executor.
     */
    public UsageStoreBuilder sealExecutor(Executor executor) {
        this.sealExecutor = Objects.requireNonNull(executor, "sealExecutor");
        return this;
    }

    /**
     * Checks the settings together ({@link StoreConfig#crossCheck}) and returns them, without
     * opening anything: for code that opens the store another way (tests with hooks, snapshots).
     */
    public StoreConfig config() {
        List<StoreConfig.CrossCheck> broken = StoreConfig.crossCheck(detailRetention, rollupRetention, maxEventAge);
        if (!broken.isEmpty()) {
            throw new IllegalArgumentException(switch (broken.get(0)) {
                case MAX_EVENT_AGE_OVER_DETAIL_RETENTION -> "maxEventAge = " + maxEventAge
                        + " is longer than detailRetention = " + detailRetention;
                case ROLLUPS_SHORTER_THAN_DETAIL -> "rollupRetention = " + rollupRetention
                        + " is shorter than detailRetention = " + detailRetention;
            } + ": " + broken.get(0).why());
        }
        return new StoreConfig(dataDir, maxSegmentBytes, maxSegmentAge, detailRetention,
                rollupRetention, maxEventAge, maxClockSkew, orphanGracePeriod, compactAfter, segmentCacheEntries, readOnly,
                clock);
    }

    /** Checks the settings together, then opens the store, running recovery. */
    public UsageStore build() {
        StoreConfig config = config();
        try {
            return TieredStore.open(config, sealExecutor);
        } catch (StoreException e) {
            if (readOnly && lockedByAnotherProcess(e)) {
                // The writer runs elsewhere: read a consistent copy instead of its locked files.
                return ReadOnlySnapshot.open(config);
            }
            throw e;
        }
    }

    /**
     * Takes a consistent, private copy of the store in the data directory (whose writer may run in
     * another process) in a new folder under {@code tempParent}, and opens it report-only with
     * this builder's retention and clock; what {@code verify} compares against. The other
     * settings do not apply to a copy.
     *
     * @param attempts how often to start over when a seal or retention publishes meanwhile
     * @param hook     test seam, {@link Snapshot.CopyHook#NONE} otherwise
     * @param taken    runs as soon as the copy is consistent, before it is opened
     * @throws StoreException when the data directory is not a store, its manifest is damaged, or
     *                        {@code tempParent} cannot be written
     */
    public Snapshot snapshot(Path tempParent, int attempts, Snapshot.CopyHook hook, Snapshot.Taken taken) {
        Objects.requireNonNull(tempParent, "tempParent");
        if (attempts < 1) {
            throw new IllegalArgumentException("attempts = " + attempts + " must be at least 1");
        }
        return StoreSnapshot.take(dataDir, tempParent, detailRetention, rollupRetention, clock, attempts,
                Objects.requireNonNull(hook, "hook"), Objects.requireNonNull(taken, "taken"));
    }

    /** Whether DuckDB refused a segment file because another process holds its lock. */
    private static boolean lockedByAnotherProcess(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            String m = String.valueOf(t.getMessage());
            if (m.contains("Could not set lock") || m.contains("Conflicting lock")) {
                return true;
            }
        }
        return false;
    }

    private static Duration positive(String name, Duration d) {
        Objects.requireNonNull(d, name);
        if (d.isNegative() || d.isZero()) {
            throw new IllegalArgumentException(name + " = " + d + " must be positive");
        }
        return d;
    }
}
