package dev.tally.store.metrics;

import dev.tally.store.RejectReason;
import dev.tally.store.SegmentInfo;
import dev.tally.store.UsageStore;
import dev.tally.store.dlq.DeadLetterQueue;
import dev.tally.store.ingest.ImportHealth;
import dev.tally.store.ingest.Importer;
import dev.tally.store.journal.Journal;
import dev.tally.store.read.StoreReader;
import dev.tally.store.read.StoreStats;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.time.Duration;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.function.Supplier;
import java.util.function.ToDoubleFunction;

/**
 * Tally's metrics as a Micrometer {@link MeterBinder}: bind it to any registry (Prometheus,
 * Spring Boot's actuator, OTLP, ...) and the store's counters and gauges appear there under the
 * same names the worker's {@code /metrics} uses (Prometheus naming: {@code tally.events.accepted}
 * is scraped as {@code tally_events_accepted_total}). Micrometer is an optional dependency of
 * usage-store: only an application that uses this class needs it on its class path.
 *
 * <pre>{@code
 * TallyMetrics.builder(store).journal(journal).build().bindTo(registry);
 * }</pre>
 *
 * <p>Every meter reads the live objects when the registry asks (nothing is pushed); the segment
 * list, the import health and the dead-letter counts are read at most once per
 * {@link Builder#snapshotTtl snapshot TTL} and shared by the meters that need them, so one scrape
 * lists the segments once.
 *
 * <p>Thread-safe: the snapshots are {@link Memo}s; everything else is immutable.
 */
public final class TallyMetrics implements MeterBinder {
    private final UsageStore store;
    private final Journal journal;
    private final Importer importer;
    private final DeadLetterQueue deadLetters;
    private final Memo<Map<SegmentInfo.State, long[]>> tiers;
    private final Memo<ImportHealth> importHealth;
    private final Memo<Map<RejectReason, Long>> deadCounts;

    private TallyMetrics(Builder b) {
        this.store = b.store;
        this.journal = b.journal;
        this.importer = b.importer;
        this.deadLetters = b.deadLetters;
        long ttl = b.snapshotTtl.toNanos();
        this.tiers = new Memo<>(ttl, this::tierTotals);
        this.importHealth = new Memo<>(ttl, () -> importer.health());
        this.deadCounts = new Memo<>(ttl, () -> deadLetters.countsByReason());
    }

    /** Metrics of {@code store}; add the journal, importer and dead-letter queue when the application runs them. */
    public static Builder builder(UsageStore store) {
        return new Builder(store);
    }

    /** Correction counters; see {@code docs/corrections.md}. */
    private static void bindCorrections(MeterRegistry registry, dev.tally.store.correct.CorrectionMetrics cm) {
        for (dev.tally.store.correct.Correction.Kind k : dev.tally.store.correct.Correction.Kind.values()) {
            for (dev.tally.store.correct.CorrectionMetrics.Outcome o
                    : dev.tally.store.correct.CorrectionMetrics.Outcome.values()) {
                FunctionCounter.builder("tally.corrections", cm, x -> x.requests(k, o))
                        .description("Correction requests, by kind and outcome.")
                        .tags("kind", k.code(), "outcome", o.code()).register(registry);
            }
            FunctionCounter.builder("tally.corrections.events", cm, x -> x.events(k))
                    .description("Events voided or amended by corrections, by kind.").tags("kind", k.code())
                    .register(registry);
        }
        for (dev.tally.store.correct.CorrectionRejectReason r : dev.tally.store.correct.CorrectionRejectReason.values()) {
            FunctionCounter.builder("tally.corrections.rejected", cm, x -> x.rejected(r))
                    .description("Ids of correction requests that were not corrected, by reason.")
                    .tags("reason", r.code()).register(registry);
        }
        FunctionCounter.builder("tally.corrections.forced", cm, dev.tally.store.correct.CorrectionMetrics::forced)
                .description("Corrections applied to a closed period by force.").register(registry);
    }

    @Override
    public void bindTo(MeterRegistry registry) {
        StoreStats m = store instanceof StoreReader r ? r.stats() : null;
        if (m != null) {
            counter(registry, "tally.events.accepted", "Events stored (imported into the store).", m,
                    StoreStats::accepted);
            counter(registry, "tally.events.duplicate", "Events not stored again because their tenant and id were "
                    + "already stored.", m, StoreStats::duplicates);
            for (RejectReason r : RejectReason.values()) {
                FunctionCounter.builder("tally.events.rejected", m, x -> x.rejected(r))
                        .description(REJECTED_HELP).tags("stage", "import", "reason", r.code()).register(registry);
            }
            counter(registry, "tally.seals", "Segments sealed to Parquet.", m, StoreStats::seals);
            if (store instanceof dev.tally.store.correct.CorrectedStore cs) {
                bindCorrections(registry, cs.corrections().metrics());
            }
            counter(registry, "tally.seal.seconds", "Time spent sealing segments.", m, StoreStats::sealSeconds);
            counter(registry, "tally.retention.seconds", "Time spent in retention passes.", m,
                    StoreStats::retentionSeconds);
            counter(registry, "tally.write.gate.wait.seconds", "Time appends and rollovers waited for the write gate.",
                    m, StoreStats::gateWaitSeconds);
        }
        for (SegmentInfo.State s : SegmentInfo.State.values()) {
            String tier = s.name().toLowerCase(Locale.ROOT);
            gauge(registry, "tally.segments", "Segments and sealed parts, by tier.", () -> tiers.get().get(s)[0],
                    "tier", tier);
            gauge(registry, "tally.segment.bytes", "Bytes on disk, by tier.", () -> tiers.get().get(s)[1],
                    "tier", tier);
            gauge(registry, "tally.segment.rows", "Rows, by tier (rollup rows are hourly aggregates).",
                    () -> tiers.get().get(s)[2], "tier", tier);
        }
        if (importer != null) {
            // Measured at the scrape, not at the end of the last pass: a pass catching up would read 0.
            gauge(registry, "tally.import.lag.bytes", "Bytes of journal files not yet imported.",
                    importer::currentLagBytes);
            gauge(registry, "tally.import.lag.seconds", "Age of the oldest journal file with bytes not yet imported.",
                    importer::currentLagSeconds);
            gauge(registry, "tally.import.last.success.timestamp.seconds", "When the last import pass completed "
                    + "(Unix time).", () -> {
                        ImportHealth h = importHealth.get();
                        return h.lastSuccess() == null ? 0 : h.lastSuccess().toEpochMilli() / 1000.0;
                    });
        }
        if (deadLetters != null) {
            for (RejectReason r : RejectReason.values()) {
                gauge(registry, "tally.dead.letters", "Entries in the dead-letter queue, by reason.",
                        () -> deadCounts.get().getOrDefault(r, 0L), "reason", r.code());
            }
        }
        if (journal != null) {
            counter(registry, "tally.journal.appends", "Journal appends acknowledged by this process.", journal,
                    j -> j.stats().appends());
            counter(registry, "tally.journal.fsyncs", "Journal fsyncs by this process.", journal,
                    j -> j.stats().syncs());
            counter(registry, "tally.journal.rotations", "Journal rotations by this process.", journal,
                    j -> j.stats().rotations());
        }
    }

    /** The help text of {@code tally.events.rejected}, which the worker shares for its {@code stage="http"} series. */
    public static final String REJECTED_HELP = "Events refused, by stage (http: at the API; import: by the store) "
            + "and reason.";

    private Map<SegmentInfo.State, long[]> tierTotals() {
        Map<SegmentInfo.State, long[]> out = new EnumMap<>(SegmentInfo.State.class);
        for (SegmentInfo.State s : SegmentInfo.State.values()) {
            out.put(s, new long[3]);
        }
        List<SegmentInfo> segments = store.segments();
        for (SegmentInfo s : segments) {
            long[] t = out.get(s.state());
            t[0]++;
            t[1] += s.bytes();
            t[2] += s.rows();
        }
        return out;
    }

    private static <T> void counter(MeterRegistry registry, String name, String help, T state, ToDoubleFunction<T> f) {
        FunctionCounter.builder(name, state, f).description(help).register(registry);
    }

    private static void gauge(MeterRegistry registry, String name, String help, Supplier<Number> f, String... tags) {
        Gauge.builder(name, f).description(help).tags(tags).strongReference(true).register(registry);
    }

    /** Not thread-safe. */
    public static final class Builder {
        private final UsageStore store;
        private Journal journal;
        private Importer importer;
        private DeadLetterQueue deadLetters;
        private Duration snapshotTtl = Duration.ofSeconds(1);

        private Builder(UsageStore store) {
            this.store = Objects.requireNonNull(store, "store");
        }

        /** Adds {@code tally.journal.*}. */
        public Builder journal(Journal journal) {
            this.journal = journal;
            return this;
        }

        /** Adds {@code tally.import.*}. */
        public Builder importer(Importer importer) {
            this.importer = importer;
            return this;
        }

        /** Adds {@code tally.dead.letters}. */
        public Builder deadLetters(DeadLetterQueue deadLetters) {
            this.deadLetters = deadLetters;
            return this;
        }

        /** How long a segment list, import health or dead-letter count is reused; zero reads them every time. */
        public Builder snapshotTtl(Duration ttl) {
            if (ttl == null || ttl.isNegative() || ttl.compareTo(Duration.ofMinutes(1)) > 0) {
                throw new IllegalArgumentException("snapshotTtl = " + ttl + " must be 0 to 1m");
            }
            this.snapshotTtl = ttl;
            return this;
        }

        public TallyMetrics build() {
            return new TallyMetrics(this);
        }
    }

    /**
     * A value computed at most once per TTL. Thread-safe: {@code synchronized}; a slow compute
     * blocks other readers of the same memo only.
     */
    static final class Memo<T> {
        private final long ttlNanos;
        private final Supplier<T> compute;
        private T value; // guarded by this
        private long at; // guarded by this
        private boolean set; // guarded by this

        Memo(long ttlNanos, Supplier<T> compute) {
            this.ttlNanos = ttlNanos;
            this.compute = compute;
        }

        synchronized T get() {
            long now = System.nanoTime();
            if (!set || now - at >= ttlNanos) {
                value = compute.get();
                at = now;
                set = true;
            }
            return value;
        }
    }
}
