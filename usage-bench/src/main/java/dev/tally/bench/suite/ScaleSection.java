package dev.tally.bench.suite;

import static dev.tally.bench.suite.Fmt.events;
import static dev.tally.bench.suite.Fmt.ms;
import static dev.tally.bench.suite.Fmt.pct;
import static dev.tally.bench.suite.Fmt.rate;

import java.util.Locale;
import java.util.TreeMap;

/**
 * The report's section on one store grown to 100M events by Tally alone ({@code bench/all
 * --tally-100m}, which runs {@link GrowthBenchmark} and adds its figures under {@code scale.}):
 * ingest rate as the store grows, memory, reopen, the monthly read, bytes per event, and what 1B
 * events would need, scaled from the same figures.
 *
 * <p>Not thread-safe: one report is written by one thread.
 */
final class ScaleSection extends ReportPart {
    static final String P = "scale.";

    ScaleSection(ReportPart first) {
        super(first);
    }

    /** Whether this run grew a store of its own at scale. */
    boolean ran() {
        return r.containsKey(P + "growth.events");
    }

    /** Events of the grown store (0 when not run). */
    long stored() {
        Double n = num(P + "growth.events");
        return n == null ? 0 : n.longValue();
    }

    void write() {
        line("## 6. 100M stored: one store grown by Tally alone");
        line("");
        if (!ran()) {
            line("Not in this run: `bench/all --tally-100m` grows one store to 100M events (Tally alone), "
                    + "`--with-100m` runs every system at 100M. Step status: " + status("growth-ingest") + ".");
            line("");
            return;
        }
        long n = stored();
        line("One store grown to " + events(n) + " events through the public `UsageStore` API with default settings, "
                + "as a new user would: the suite's 30-day workload, batches of " + rate(num(P + "growth.batch"))
                + ", seals on the store's own thread, `-Xmx" + get("run.heap", "?") + "`. Then the store is closed, "
                + "reopened, its first and last batches are appended again (every event must come back a duplicate), "
                + "every closed day is compacted, and the monthly total of one subject is read (result cache off, a "
                + "new subject each answer, 5 warm-up and " + get(P + "query.monthly.runs", "50") + " timed answers). "
                + "Tally alone: no engine-limit or PostgreSQL peer at this size (`--with-100m` adds them). Steps: "
                + "ingest " + status("growth-ingest") + ", reopen and compaction " + status("growth-reopen")
                + ", read alone " + status("growth-query") + ".");
        line("");

        TreeMap<Long, Double> rates = new TreeMap<>();
        String prefix = P + "growth.rate_at.";
        for (String k : r.keySet()) {
            if (k.startsWith(prefix)) {
                rates.put(Long.parseLong(k.substring(prefix.length())), num(k));
            }
        }
        StringBuilder head = new StringBuilder("| stored |");
        StringBuilder sep = new StringBuilder("|---|");
        StringBuilder vals = new StringBuilder("| events/s in the million ending there |");
        for (var e : rates.entrySet()) {
            long at = e.getKey();
            boolean shown = at <= 6_000_000 || at % 10_000_000 == 0 || at == rates.lastKey();
            if (shown) {
                head.append(' ').append(events(at)).append(" |");
                sep.append("---:|");
                vals.append(' ').append(rate(e.getValue())).append(" |");
            }
        }
        line(head.toString());
        line(sep.toString());
        line(vals.toString());
        line("");
        Double ratio = num(P + "growth.rate_ratio_last_vs_1m");
        line("**Rate at " + events(n) + " stored against 1M: " + pct(ratio) + "** (median of the last five 1M chunks, "
                + rate(num(P + "growth.rate_last_5m_median")) + " events/s, against the median of chunks 2–6, "
                + rate(num(P + "growth.rate_1m_to_6m_median")) + " events/s; target ≥ 80%). Whole run: "
                + events(n) + " events in " + secs(num(P + "growth.ingest_seconds")) + " of append calls, then "
                + secs(num(P + "growth.final_seal_seconds")) + " to seal the last segment.");
        line("");

        header("figure", "value");
        row("peak heap used (garbage included)", mib(P + "growth.peak_heap_used_mib"));
        row("live heap after a full GC, " + events(n) + " stored", mib(P + "growth.heap_live_after_gc_mib")
                + " (" + perEventBytes(num(P + "growth.heap_live_after_gc_mib"), 1 << 20, n) + " bytes per event)");
        row("peak RSS of the process", mib(P + "growth.peak_rss_mib"));
        row("reopen (recovery passes, dedup index from the key sidecars)", secs(num(P + "reopen.seconds"))
                + " (target < 15 s)");
        row("live heap after reopen", mib(P + "reopen.heap_live_after_gc_mib"));
        row("first and last batches appended again", rate(num(P + "reopen.duplicates_refused")) + " refused as duplicates, "
                + rate(num(P + "reopen.duplicates_stored")) + " stored, in " + ms(num(P + "reopen.duplicate_batches_ms"))
                + " ms");
        row("compaction of every closed day", secs(num(P + "compaction.seconds")) + " ("
                + get(P + "compaction.parts_merged", "—") + " parts merged into " + get(P + "compaction.parts_written", "—")
                + ")");
        row("bytes per event on disk, whole store", perEvent(P + "growth.dir_bytes_per_event"));
        row("of which detail Parquet", perEvent(P + "growth.detail_bytes_per_event"));
        row("of which key sidecars", perEvent(P + "growth.sidecar_bytes_per_event"));
        row("of which hourly rollups", perEvent(P + "growth.rollup_bytes_per_event"));
        row("of which rollup totals", perEvent(P + "growth.totals_bytes_per_event"));
        line("");

        line("The monthly total of one subject, with " + events(n) + " stored:");
        line("");
        header("store layout", "p50 (ms)", "p99 (ms)", "process CPU per answer (ms)", "load average",
                "events counted, input tokens");
        monthly("as sealed, right after the reopen", P + "reopen.monthly.");
        monthly("after compaction", P + "compacted.monthly.");
        monthly("after compaction, the read alone in a new process", P + "query.monthly.");
        line("");
        line("Every row must count the same events and tokens (the same subjects are asked in each).");
        line("");

        // 1B on paper, scaled from this run's own figures.
        Double heap = num(P + "growth.heap_live_after_gc_mib");
        Double disk = num(P + "growth.dir_bytes_per_event");
        Double reopen = num(P + "reopen.seconds");
        if (heap != null && disk != null && reopen != null) {
            double scale = 1e9 / n;
            line(String.format(Locale.ROOT, "**1B events, on paper** (this run's figures scaled by %.0f): about "
                    + "%.1f GiB of live heap (the dedup index is nearly all of it), %.0f GB of disk (%.1f bytes per event), and a reopen of "
                    + "about %.0f s (reading the key sidecars and filling the index grow with the event count). "
                    + "Those limit one machine, not the probe cost (flat with size, `bench/run dedup`) or the monthly "
                    + "read (its totals grow with subjects, not events). Beyond that, tenants are split over several "
                    + "stores, each with its own dedup window.", scale, heap * scale / 1024, disk, disk,
                    reopen * scale));
            line("");
        }
    }

    private void monthly(String layout, String k) {
        if (num(k + "p50_ms") == null) {
            row(layout, "—", "—", "—", "—", "—");
            return;
        }
        row(layout, ms(num(k + "p50_ms")), ms(num(k + "p99_ms")), ms(num(k + "process_cpu_ms_per_run")),
                String.format(Locale.ROOT, "%.2f", num(k + "load_avg")),
                String.format(Locale.ROOT, "%,d, %s", num(k + "events_counted").longValue(),
                        get(k + "input_tokens", "—")));
    }

    private String mib(String key) {
        Double v = num(key);
        return v == null ? "—" : String.format(Locale.ROOT, "%,.0f MiB", v);
    }

    private String perEvent(String key) {
        Double v = num(key);
        return v == null ? "—" : String.format(Locale.ROOT, "%.1f", v);
    }

    private static String perEventBytes(Double amount, double unit, long n) {
        return amount == null ? "—" : String.format(Locale.ROOT, "%.1f", amount * unit / n);
    }

    private static String secs(Double v) {
        return v == null ? "—" : String.format(Locale.ROOT, "%.1f s", v);
    }
}
