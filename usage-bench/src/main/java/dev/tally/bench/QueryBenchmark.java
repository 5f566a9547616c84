package dev.tally.bench;

import dev.tally.store.CompactionReport;
import dev.tally.store.UsageEvent;
import dev.tally.store.UsageStore;
import dev.tally.store.meter.Aggregation;
import dev.tally.store.meter.MeterDefinition;
import dev.tally.store.meter.MeterQuery;
import dev.tally.store.meter.MeterRegistry;
import dev.tally.store.meter.MeterResult;
import dev.tally.store.meter.MeterService;
import dev.tally.store.meter.WindowSize;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.function.Supplier;
import java.util.stream.Stream;

/**
 * Meter query latency over a sealed store: generates events over 30 days and 1,000 subjects
 * through the store's append path, seals, then times each query shape over many runs from hourly
 * rollups and from detail, with the per-part cache off (every run computes) and, for rollups, on.
 *
 * <pre>bench/run query [events] [runs] [dir] [shapes] [compact]</pre>
 *
 * Defaults: 1,000,000 events, 50 runs, a temporary folder deleted at the end (also for an empty
 * folder argument). A fourth argument
 * names the query shapes to time, comma-separated ({@code monthly,daily-per-subject,daily-by-model,
 * unique,p95}; default all of them). Prints one line per measurement: name, source, rows returned,
 * p50 and p99 in milliseconds. A fifth argument {@code compact} then compacts every closed day
 * ({@code UsageStore.compact(true)}) and times the same shapes again.
 */
public final class QueryBenchmark {
    private static final Instant NOW = Instant.parse("2026-11-20T12:00:00Z");
    private static final int SUBJECTS = 1_000;
    private static final int BATCH = 10_000;

    private QueryBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        long events = args.length > 0 ? Long.parseLong(args[0].replace("_", "")) : 1_000_000L;
        int runs = args.length > 1 ? Integer.parseInt(args[1]) : 50;
        boolean temporary = args.length <= 2 || args[2].isEmpty(); // "" keeps the default when naming shapes
        Path dir = temporary ? Files.createTempDirectory("tally-query-bench-") : Path.of(args[2]);
        java.util.Set<String> all = java.util.Set.of("monthly", "daily-per-subject", "daily-by-model", "unique", "p95");
        java.util.Set<String> shapes = args.length > 3 && !args[3].isEmpty() ? java.util.Set.of(args[3].split(",")) : all;
        boolean compact = args.length > 4 && args[4].equals("compact");
        if (args.length > 4 && !compact) {
            throw new IllegalArgumentException("fifth argument = '" + args[4] + "': only 'compact' is known");
        }
        if (!all.containsAll(shapes)) {
            throw new IllegalArgumentException("shapes = '" + args[3] + "': each must be one of " + all);
        }
        System.out.printf(Locale.ROOT, "events=%d runs=%d dir=%s cores=%d maxHeap=%dMiB java=%s%n", events, runs, dir,
                Runtime.getRuntime().availableProcessors(), Runtime.getRuntime().maxMemory() >> 20,
                System.getProperty("java.version"));
        try (UsageStore store = UsageStore.builder(dir).clock(Clock.fixed(NOW, ZoneOffset.UTC))
                .sealExecutor(Runnable::run).build()) {
            long t0 = System.nanoTime();
            load(store, events);
            long t1 = System.nanoTime();
            store.sealNow();
            long t2 = System.nanoTime();
            long parts = store.segments().stream().filter(s -> s.state().name().startsWith("SEALED")).count();
            long bytes = store.segments().stream().mapToLong(s -> s.bytes()).sum();
            System.out.printf(Locale.ROOT, "ingest %.1f s (%.0f events/s), final seal %.1f s, %d sealed parts, %.1f MiB%n",
                    (t1 - t0) / 1e9, events / ((t1 - t0) / 1e9), (t2 - t1) / 1e9, parts, bytes / 1048576.0);
            MeterRegistry reg = registry();
            timeShapes(store, reg, shapes, runs);
            if (compact) {
                long c0 = System.nanoTime();
                CompactionReport report = store.compact(true);
                long c1 = System.nanoTime();
                long after = store.segments().stream().filter(s -> s.state().name().startsWith("SEALED")).count();
                System.out.printf(Locale.ROOT, "compaction %.1f s: %d parts merged into %d, %d sealed parts now%n",
                        (c1 - c0) / 1e9, report.sourcesReplaced(), report.units().size(), after);
                timeShapes(store, reg, shapes, runs);
            }
        } finally {
            if (temporary) {
                deleteTree(dir);
            }
        }
    }

    private static MeterRegistry registry() {
        MeterRegistry reg = new MeterRegistry();
        reg.register(new MeterDefinition("input_tokens", "llm.request", Aggregation.SUM, "$.input_tokens",
                Map.of("model", "$.model"), Map.of()));
        reg.register(new MeterDefinition("active_users", "llm.request", Aggregation.UNIQUE_COUNT, "$.user",
                Map.of("model", "$.model"), Map.of()));
        reg.register(new MeterDefinition("latency_p95", "llm.request", Aggregation.P95, "$.latency_ms",
                Map.of("model", "$.model"), Map.of()));
        return reg;
    }

    /** Times each asked-for shape over {@code store}, with fresh meter services (empty caches). */
    private static void timeShapes(UsageStore store, MeterRegistry reg, java.util.Set<String> shapes, int runs) {
            Instant from = NOW.minus(Duration.ofDays(30)).truncatedTo(java.time.temporal.ChronoUnit.DAYS);
            Instant to = NOW.truncatedTo(java.time.temporal.ChronoUnit.HOURS).plus(Duration.ofHours(1));
            ZoneId berlin = ZoneId.of("Europe/Berlin");
            try (MeterService cold = new MeterService(store, reg, 0); MeterService warm = new MeterService(store, reg)) {
                MeterQuery monthly = MeterQuery.builder("input_tokens", "acme", from, to).subjects("subject-42").build();
                MeterQuery monthlyDetail = MeterQuery.builder("input_tokens", "acme", from, to).subjects("subject-42")
                        .detailOnly(true).build();
                MeterQuery dailyPerSubject = MeterQuery.builder("input_tokens", "acme", from, to)
                        .window(WindowSize.DAY, berlin).build();
                MeterQuery dailyPerSubjectDetail = MeterQuery.builder("input_tokens", "acme", from, to)
                        .window(WindowSize.DAY, berlin).detailOnly(true).build();
                MeterQuery dailyByModel = MeterQuery.builder("input_tokens", "acme", from, to)
                        .window(WindowSize.DAY, berlin).perSubject(false).groupBy("model").build();
                MeterQuery unique = MeterQuery.builder("active_users", "acme", from, to)
                        .window(WindowSize.DAY, berlin).perSubject(false).build();
                MeterQuery uniqueOne = MeterQuery.builder("active_users", "acme", from, to).subjects("subject-42").build();
                MeterQuery p95 = MeterQuery.builder("latency_p95", "acme", from, to)
                        .window(WindowSize.DAY, berlin).perSubject(false).groupBy("model").build();
                MeterQuery p95One = MeterQuery.builder("latency_p95", "acme", from, to).subjects("subject-42").build();
                checkSame(cold.query(monthly), cold.query(monthlyDetail));
                checkSame(cold.query(dailyPerSubject), cold.query(dailyPerSubjectDetail));

                if (shapes.contains("monthly")) {
                    time("monthly total, 1 subject", runs, () -> cold.query(monthly));
                    time("monthly total, 1 subject, warm cache", runs, () -> warm.query(monthly));
                    time("monthly total, 1 subject", runs, () -> cold.query(monthlyDetail));
                    // As the side-by-side suite asks it: cache off, another subject each run.
                    int[] other = {0};
                    time("monthly total, another subject each run", runs, () -> cold.query(
                            MeterQuery.builder("input_tokens", "acme", from, to)
                                    .subjects("subject-" + (other[0]++ * 7 % SUBJECTS)).build()));
                    // A billing run: each run asks another subject; the cache holds every subject's parts.
                    int[] next = {0};
                    time("monthly total, another subject each run, warm cache", runs, () -> warm.query(
                            MeterQuery.builder("input_tokens", "acme", from, to)
                                    .subjects("subject-" + (next[0]++ * 7 % SUBJECTS)).build()));
                    time("monthly total, 1 subject, cache emptied before each run", runs, () -> {
                        warm.invalidateAll();
                        return warm.query(monthly);
                    });
                }
                if (shapes.contains("daily-per-subject")) {
                    time("daily (Berlin) per subject, all 1000", runs, () -> cold.query(dailyPerSubject));
                    time("daily (Berlin) per subject, all 1000, warm cache", runs, () -> warm.query(dailyPerSubject));
                    time("daily (Berlin) per subject, all 1000", runs, () -> cold.query(dailyPerSubjectDetail));
                }
                if (shapes.contains("daily-by-model")) {
                    time("daily (Berlin) grouped by model", runs, () -> cold.query(dailyByModel));
                    time("daily (Berlin) grouped by model, warm cache", runs, () -> warm.query(dailyByModel));
                }
                if (shapes.contains("unique")) {
                    time("UNIQUE_COUNT users, 1 subject, month", runs, () -> cold.query(uniqueOne));
                    time("UNIQUE_COUNT users, daily (Berlin), all subjects", runs, () -> cold.query(unique));
                }
                if (shapes.contains("p95")) {
                    time("P95 latency, 1 subject, month", runs, () -> cold.query(p95One));
                    time("P95 latency, daily (Berlin) by model", runs, () -> cold.query(p95));
                }
            }
    }

    /** Events spread over the 30 days before NOW in time order (as a live feed arrives), 1,000 subjects. */
    private static void load(UsageStore store, long events) {
        Random r = new Random(42);
        long span = Duration.ofDays(30).toNanos() / 1_000;
        Instant start = NOW.minus(Duration.ofDays(30));
        List<UsageEvent> batch = new ArrayList<>(BATCH);
        for (long i = 0; i < events; i++) {
            long micros = (long) ((double) span * i / events) + r.nextInt(1_000_000); // span * i overflows a long at 10M
            Instant t = start.plusNanos(Math.min(micros, span - 1) * 1_000);
            int subject = (int) (Math.abs(r.nextGaussian()) * SUBJECTS / 3) % SUBJECTS;
            String data = "{\"input_tokens\":" + (1 + r.nextInt(8_000)) + ",\"output_tokens\":" + r.nextInt(2_000)
                    + ",\"model\":\"m-" + r.nextInt(4) + "\",\"user\":\"u-" + r.nextInt(5_000) + "\",\"latency_ms\":"
                    + (20 + r.nextInt(3_000)) + "." + r.nextInt(10) + ",\"cost\":0." + String.format("%06d", r.nextInt(1_000_000))
                    + "}";
            batch.add(new UsageEvent("acme", "ev-" + i, "llm.request", "subject-" + subject, "bench", t, data));
            if (batch.size() == BATCH) {
                append(store, batch);
            }
        }
        append(store, batch);
    }

    private static void append(UsageStore store, List<UsageEvent> batch) {
        if (batch.isEmpty()) {
            return;
        }
        var result = store.append(batch);
        if (result.accepted() != batch.size()) {
            throw new IllegalStateException("append accepted " + result.accepted() + " of " + batch.size() + ": "
                    + result.rejected().stream().limit(3).toList());
        }
        batch.clear();
    }

    private static void checkSame(MeterResult a, MeterResult b) {
        if (!a.rows().equals(b.rows())) {
            throw new IllegalStateException("rollup and detail answers differ for " + a.query());
        }
    }

    private static void time(String name, int runs, Supplier<MeterResult> q) {
        MeterResult first = q.get(); // warms DuckDB's file and metadata caches; not counted
        long[] nanos = new long[runs];
        for (int i = 0; i < runs; i++) {
            long t = System.nanoTime();
            q.get();
            nanos[i] = System.nanoTime() - t;
        }
        Arrays.sort(nanos);
        System.out.printf(Locale.ROOT, "%-52s %-7s rows=%-6d p50=%9.2f ms  p99=%9.2f ms%n", name, first.source(),
                first.rows().size(), nanos[(int) Math.ceil(0.5 * runs) - 1] / 1e6,
                nanos[(int) Math.ceil(0.99 * runs) - 1] / 1e6);
    }

    private static void deleteTree(Path dir) throws IOException {
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
