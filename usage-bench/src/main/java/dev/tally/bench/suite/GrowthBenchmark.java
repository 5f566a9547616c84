package dev.tally.bench.suite;

import dev.tally.bench.Workload;
import dev.tally.store.AppendResult;
import dev.tally.store.SegmentInfo;
import dev.tally.store.UsageEvent;
import dev.tally.store.UsageStore;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * One store grown to {@code events} events through the public API only, as a new user would:
 * the suite's ordered 30-day workload in batches of 10,000, default settings, seals on the
 * store's own thread. Tally only ({@code bench/all --with-100m} runs PostgreSQL beside it).
 * Writes {@code results.txt} in the run folder and prints every figure.
 *
 * <pre>
 * usage: GrowthBenchmark ingest [events=100000000] [dir] [batch=10000]
 *        GrowthBenchmark reopen dir [queryRuns=50]
 *        GrowthBenchmark query dir [queryRuns=50]
 * </pre>
 *
 * <ul>
 *   <li>{@code ingest}: the append rate of every 1M-event chunk as the store grows, heap and RSS
 *       along the way, then every segment sealed and the store closed; the footprint per event.</li>
 *   <li>{@code reopen}: the time to open the grown store (recovery and the dedup index), the
 *       first and last batches appended again (every event must come back a duplicate), and the
 *       monthly total of one subject (cache off, a new subject each run) at p50 and p99; then
 *       compaction of every closed day ({@code compact(true)}) and the same reads again.</li>
 *   <li>{@code query}: the grown store opened and the monthly total measured, nothing else: the
 *       figure to rerun on a quiet machine next to {@code bench/run growth-pg query}.</li>
 * </ul>
 * Not a test: run it with {@code bench/run growth}.
 */
public final class GrowthBenchmark {
    private static final long CHUNK = 1_000_000;
    private static final int WINDOW = 5;

    private GrowthBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        String mode = args.length > 0 ? args[0] : "ingest";
        switch (mode) {
            case "ingest" -> {
                long events = args.length > 1 ? Long.parseLong(args[1]) : 100_000_000L;
                Path dir = args.length > 2 && !args[2].isEmpty() ? Path.of(args[2])
                        : Files.createTempDirectory("tally-growth");
                int batch = args.length > 3 ? Integer.parseInt(args[3]) : 10_000;
                ingest(events, dir, batch);
            }
            case "reopen" -> {
                if (args.length < 2) {
                    throw new IllegalArgumentException("usage: GrowthBenchmark reopen DIR [queryRuns]");
                }
                reopen(Path.of(args[1]), args.length > 2 ? Integer.parseInt(args[2]) : 50);
            }
            case "query" -> {
                if (args.length < 2) {
                    throw new IllegalArgumentException("usage: GrowthBenchmark query DIR [queryRuns]");
                }
                query(Path.of(args[1]), args.length > 2 ? Integer.parseInt(args[2]) : 50);
            }
            default -> throw new IllegalArgumentException("unknown mode " + mode + " (ingest, reopen or query)");
        }
    }

    private static void ingest(long events, Path dir, int batch) throws Exception {
        Files.createDirectories(dir);
        Path store = dir.resolve("store");
        Results out = new Results(dir.resolve("results.txt"));
        Instant end = Instant.now();
        out.put("growth.events", events);
        out.put("growth.batch", batch);
        out.put("growth.end", end);
        out.put("growth.cores", Runtime.getRuntime().availableProcessors());
        out.put("growth.max_heap_mib", Runtime.getRuntime().maxMemory() >> 20);
        Workload w = Suite.workload(end, events);
        List<Double> rates = new ArrayList<>();
        long chunkNanos = 0;
        long accepted = 0;
        long started = System.nanoTime();
        List<UsageEvent> last = null;
        try (UsageStore s = UsageStore.builder(store).build()) {
            long done = 0;
            while (done < events) {
                int n = (int) Math.min(batch, events - done);
                List<UsageEvent> b = w.batch(n);
                long t0 = System.nanoTime();
                AppendResult r = s.append(b);
                chunkNanos += System.nanoTime() - t0;
                accepted += r.accepted();
                done += n;
                last = b;
                if (done % CHUNK == 0 || done == events) {
                    long size = done % CHUNK == 0 ? CHUNK : done % CHUNK;
                    double rate = size / (chunkNanos / 1e9);
                    rates.add(rate);
                    chunkNanos = 0;
                    out.put("growth.rate_at." + done, rate);
                    System.out.printf(Locale.ROOT, "# %,d stored, %,.0f events/s this chunk, heap used %d MiB, rss %d MiB,"
                            + " load %.1f, %.0f s%n", done, rate, heapUsed() >> 20, Sys.rss("self") >> 20, Sys.load(),
                            (System.nanoTime() - started) / 1e9);
                }
            }
            out.put("growth.ingest_seconds", (System.nanoTime() - started) / 1e9);
            if (accepted != events) {
                throw new IllegalStateException("expected " + events + " accepted, got " + accepted);
            }
            StoreBench.waitForSeals(s);
            long t0 = System.nanoTime();
            s.sealNow();
            out.put("growth.final_seal_seconds", (System.nanoTime() - t0) / 1e9);
            out.put("growth.peak_heap_used_mib", peakHeap() >> 20);
            out.put("growth.heap_live_after_gc_mib", liveHeap() >> 20);
            long detail = 0;
            long rollup = 0;
            int parts = 0;
            for (SegmentInfo si : s.segments()) {
                if (si.state() == SegmentInfo.State.SEALED_DETAIL) {
                    detail += si.bytes();
                    parts++;
                } else if (si.state() == SegmentInfo.State.SEALED_ROLLUP) {
                    rollup += si.bytes();
                }
            }
            out.put("growth.detail_parts", parts);
            out.put("growth.detail_bytes_per_event", detail / (double) events);
            out.put("growth.rollup_bytes_per_event", rollup / (double) events);
        }
        out.put("growth.peak_rss_mib", Sys.peakRss("self") >> 20);
        out.put("growth.dir_bytes_per_event", Sys.bytes(store) / (double) events);
        out.put("growth.sidecar_bytes_per_event", Sys.bytes(store, p -> p.toString().endsWith(".keys"))
                / (double) events);
        out.put("growth.totals_bytes_per_event", Sys.bytes(store, p -> p.toString().endsWith(".totals"))
                / (double) events);
        double[] r = rates.stream().mapToDouble(Double::doubleValue).toArray();
        if (r.length >= 2 * WINDOW) {
            // Medians of five chunks each side: one chunk that overlapped a seal or a neighbour's
            // burst does not decide the ratio.
            double first = median(Arrays.copyOfRange(r, 1, 1 + WINDOW));
            double lastRate = median(Arrays.copyOfRange(r, r.length - WINDOW, r.length));
            out.put("growth.rate_1m_to_6m_median", first);
            out.put("growth.rate_last_5m_median", lastRate);
            out.put("growth.rate_ratio_last_vs_1m", lastRate / first);
        }
        // The batches the reopen step appends again: the first of the workload, and the last.
        Files.writeString(dir.resolve("last-batch.tsv"), tsv(last));
        System.out.println("store grown in " + store + "; next: bench/run growth reopen " + dir);
    }

    private static void reopen(Path dir, int runs) throws Exception {
        Path store = dir.resolve("store");
        Results out = new Results(dir.resolve("results.txt"));
        var prior = Results.read(dir.resolve("results.txt"));
        long events = Long.parseLong(prior.get("growth.events"));
        Instant end = Instant.parse(prior.get("growth.end"));
        System.gc();
        long t0 = System.nanoTime();
        try (UsageStore s = UsageStore.builder(store).build()) {
            out.put("reopen.seconds", (System.nanoTime() - t0) / 1e9);
            out.put("reopen.heap_live_after_gc_mib", liveHeap() >> 20);
            out.put("reopen.rss_mib", Sys.rss("self") >> 20);
            List<UsageEvent> first = Suite.workload(end, events).batch(10_000);
            List<UsageEvent> last = parse(Files.readString(dir.resolve("last-batch.tsv")));
            long d0 = System.nanoTime();
            AppendResult a = s.append(first);
            AppendResult b = s.append(last);
            out.put("reopen.duplicate_batches_ms", (System.nanoTime() - d0) / 1e6);
            out.put("reopen.duplicates_refused", a.duplicates() + b.duplicates());
            out.put("reopen.duplicates_stored", a.accepted() + b.accepted());
            if (a.accepted() + b.accepted() != 0) {
                throw new IllegalStateException("events stored twice after reopen: " + a + " / " + b);
            }
            measureMonthly(out, "reopen.monthly", s, runs, end);
            // Then as maintenance leaves it a day after each day ends: the closed days' parts merged
            // into one file per month (rollups) and per ISO week (detail), and the same reads again.
            long c0 = System.nanoTime();
            dev.tally.store.CompactionReport compacted = s.compact(true);
            out.put("compaction.seconds", (System.nanoTime() - c0) / 1e9);
            out.put("compaction.parts_merged", compacted.sourcesReplaced());
            out.put("compaction.parts_written", compacted.units().size());
            measureMonthly(out, "compacted.monthly", s, runs, end);
        }
    }

    /** Opens the grown store and measures only the monthly total of one subject (nothing appended or compacted). */
    private static void query(Path dir, int runs) throws Exception {
        Results out = new Results(dir.resolve("results.txt"));
        var prior = Results.read(dir.resolve("results.txt"));
        Instant end = Instant.parse(prior.get("growth.end"));
        long t0 = System.nanoTime();
        try (UsageStore s = UsageStore.builder(dir.resolve("store")).build()) {
            System.out.printf(Locale.ROOT, "opened in %.1f s%n", (System.nanoTime() - t0) / 1e9);
            measureMonthly(out, "query.monthly", s, runs, end);
        }
    }

    /** The monthly total of one subject, cache off, a new subject each run (as the suite measures it). */
    static void measureMonthly(Results out, String prefix, UsageStore s, int runs, Instant end) throws Exception {
        try (StoreQueries q = new StoreQueries(s, false)) {
            for (int i = 0; i < 5; i++) {
                q.run(Billing.Query.MONTHLY_TOTAL, Billing.params(Billing.Query.MONTHLY_TOTAL, runs + i, end,
                        Suite.TENANTS, Suite.SUBJECTS));
            }
            long[] nanos = new long[runs];
            long ev = 0;
            java.math.BigDecimal tokens = java.math.BigDecimal.ZERO;
            // The process's CPU time per answer (the engine's threads included): unlike the wall
            // time it hardly moves with the neighbours' load, so it compares two builds on a busy machine.
            long cpu0 = processCpuNanos();
            for (int i = 0; i < runs; i++) {
                Billing.Params p = Billing.params(Billing.Query.MONTHLY_TOTAL, i, end, Suite.TENANTS, Suite.SUBJECTS);
                long t0 = System.nanoTime();
                Billing.Answer a = q.run(Billing.Query.MONTHLY_TOTAL, p);
                nanos[i] = System.nanoTime() - t0;
                ev += a.events();
                tokens = tokens.add(a.value());
            }
            double cpuMs = (processCpuNanos() - cpu0) / 1e6 / runs;
            long[] sorted = Sys.sorted(nanos);
            double load = Sys.load();
            out.put(prefix + ".runs", runs);
            out.put(prefix + ".p50_ms", Sys.percentile(sorted, 0.5) / 1e6);
            out.put(prefix + ".p99_ms", Sys.percentile(sorted, 0.99) / 1e6);
            out.put(prefix + ".process_cpu_ms_per_run", cpuMs);
            out.put(prefix + ".events_counted", ev);
            out.put(prefix + ".input_tokens", tokens.stripTrailingZeros().toPlainString());
            out.put(prefix + ".source", q.source(Billing.Query.MONTHLY_TOTAL));
            out.put(prefix + ".load_avg", load);
            System.out.printf(Locale.ROOT, "%s: monthly total of one subject, p50 %.1f ms, p99 %.1f ms over %d runs, "
                    + "%.1f ms of process CPU per run, from %s (events counted %,d, input tokens %s), load average %.2f%n",
                    prefix, Sys.percentile(sorted, 0.5) / 1e6, Sys.percentile(sorted, 0.99) / 1e6, runs, cpuMs,
                    q.source(Billing.Query.MONTHLY_TOTAL), ev, tokens.stripTrailingZeros().toPlainString(), load);
        }
    }

    private static String tsv(List<UsageEvent> events) {
        StringBuilder sb = new StringBuilder();
        for (UsageEvent e : events) {
            sb.append(e.tenant()).append('\t').append(e.id()).append('\t').append(e.type()).append('\t')
                    .append(e.subject()).append('\t').append(e.time()).append('\t').append(e.data()).append('\n');
        }
        return sb.toString();
    }

    private static List<UsageEvent> parse(String tsv) {
        List<UsageEvent> out = new ArrayList<>();
        for (String line : tsv.split("\n")) {
            if (line.isEmpty()) {
                continue;
            }
            String[] f = line.split("\t", 6);
            out.add(new UsageEvent(f[0], f[1], f[2], f[3], null, Instant.parse(f[4]), f[5]));
        }
        return out;
    }

    private static double median(double[] xs) {
        double[] s = xs.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    private static long processCpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
                .getProcessCpuTime();
    }

    private static long heapUsed() {
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }

    private static long peakHeap() {
        long peak = 0;
        for (MemoryPoolMXBean p : ManagementFactory.getMemoryPoolMXBeans()) {
            if (p.getType() == MemoryType.HEAP && p.getPeakUsage() != null) {
                peak += p.getPeakUsage().getUsed();
            }
        }
        return peak;
    }

    private static long liveHeap() {
        System.gc();
        return heapUsed();
    }
}
