package dev.tally.bench.suite;

import dev.tally.store.engine.Engine;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;

/**
 * Writes {@code docs/benchmarks.md} and the growth plot from the results of one suite run. Every
 * figure in the document is read from the results file; nothing is typed in by hand. A missing
 * figure (a step that failed, timed out or was not run) shows as "—" and the step table says why.
 */
final class Report {
    private final Map<String, String> r;
    private final StringBuilder md = new StringBuilder();
    private final List<Long> sizes = new ArrayList<>();
    private final List<Long> durableSizes = new ArrayList<>();
    private final List<Integer> producers = new ArrayList<>();
    private final List<String[]> targets = new ArrayList<>();

    private Report(Map<String, String> results) {
        this.r = results;
        for (String s : get("run.sizes", "").split("\\s+")) {
            if (!s.isEmpty()) {
                sizes.add(Long.parseLong(s));
            }
        }
        for (String s : get("run.durable_sizes", "").split("\\s+")) {
            if (!s.isEmpty()) {
                durableSizes.add(Long.parseLong(s));
            }
        }
        for (String s : get("run.producers", "").split("\\s+")) {
            if (!s.isEmpty()) {
                producers.add(Integer.parseInt(s));
            }
        }
    }

    static void write(Path resultsFile, Path doc, Path png) throws IOException {
        Report rep = new Report(Results.read(resultsFile));
        GrowthPlot.draw(rep.r, rep.sizes, png);
        Files.writeString(doc, rep.render(doc, png.getFileName().toString()));
    }

    // --- access -------------------------------------------------------------------------------

    private String get(String key, String dflt) {
        return r.getOrDefault(key, dflt);
    }

    private Double num(String key) {
        String v = r.get(key);
        if (v == null) {
            return null;
        }
        try {
            double d = Double.parseDouble(v);
            return Double.isNaN(d) ? null : d;
        } catch (NumberFormatException e) {
            return null;
        }
    }

    private static Double div(Double a, Double b) {
        return a == null || b == null || b == 0 ? null : a / b;
    }

    static String rate(Double v) {
        return v == null ? "—" : String.format(Locale.ROOT, "%,.0f", v);
    }

    static String ms(Double v) {
        if (v == null) {
            return "—";
        }
        return String.format(Locale.ROOT, v < 1 ? "%.3f" : v < 100 ? "%.2f" : "%,.0f", v);
    }

    static String x(Double v) {
        return v == null ? "—" : String.format(Locale.ROOT, "%.2f×", v);
    }

    static String pct(Double v) {
        return v == null ? "—" : String.format(Locale.ROOT, "%.0f%%", 100 * v);
    }

    static String bytes(Double v) {
        if (v == null || v < 0) {
            return "—";
        }
        String[] u = {"B", "KiB", "MiB", "GiB", "TiB"};
        int i = 0;
        double d = v;
        while (d >= 1024 && i < u.length - 1) {
            d /= 1024;
            i++;
        }
        return String.format(Locale.ROOT, i == 0 ? "%.0f %s" : "%.1f %s", d, u[i]);
    }

    static String perEvent(Double bytes, double events) {
        return bytes == null ? "—" : String.format(Locale.ROOT, "%.1f", bytes / events);
    }

    static String events(long n) {
        if (n % 1_000_000 == 0) {
            return n / 1_000_000 + "M";
        }
        if (n % 1_000 == 0) {
            return n / 1_000 + "k";
        }
        return Long.toString(n);
    }

    private void line(String s) {
        md.append(s).append('\n');
    }

    private void row(Object... cells) {
        StringBuilder b = new StringBuilder("|");
        for (Object c : cells) {
            b.append(' ').append(c).append(" |");
        }
        line(b.toString());
    }

    private void header(String... cells) {
        row((Object[]) cells);
        StringBuilder b = new StringBuilder("|");
        for (String c : cells) {
            b.append(c.startsWith("query") || c.startsWith("step") || c.startsWith("system") || c.startsWith("target")
                    || c.startsWith("phase") || c.startsWith("status") || c.startsWith("met") || c.startsWith("same")
                    ? "---|" : "---:|");
        }
        line(b.toString());
    }

    private String status(String step) {
        String s = r.get("step." + step + ".status");
        return s == null ? "not run" : s;
    }

    // --- the document -------------------------------------------------------------------------

    private String render(Path doc, String png) {
        long largest = sizes.isEmpty() ? 0 : sizes.get(sizes.size() - 1);
        evaluateTargets(largest);

        line("# Benchmarks: Tally side by side with the engine limit, PostgreSQL and the disk");
        line("");
        line("Generated by `" + get("run.command", "bench/all") + "` on " + get("run.date", "?")
                + ". Do not edit by hand: every figure below comes from that one run (its raw figures are in "
                + "[benchmarks-results.txt](benchmarks-results.txt)); run the command again to regenerate it.");
        line("");
        machine();
        targets();
        ingest();
        durable();
        queries();
        growth(png, largest);
        footprint(largest);
        profiles();
        steps();
        method();
        others(doc);
        plans();
        return md.toString();
    }

    private void machine() {
        line("## The run");
        line("");
        header("", "");
        row("command", "`" + get("run.command", "?") + "`");
        row("date", get("run.date", "?"));
        row("machine", get("machine.cpu", "?") + ", " + get("machine.cores", "?") + " cores, "
                + get("machine.memory", "?") + " memory, " + get("machine.kernel", "?"));
        row("disk", get("machine.disk", "?"));
        row("Java", get("version.java", "?") + ", heap `-Xmx" + get("run.heap", "?") + "`");
        row("DuckDB", get("version.duckdb", "?"));
        row("PostgreSQL", get("version.postgres", "not available: " + status("pg_start")));
        row("PostgreSQL settings", get("version.postgres_settings", "—"));
        row("load average (1, 5, 15 min)", "at the start " + get("run.load_start", "?") + "; at the end "
                + get("run.load_end", "?"));
        row("busy processes at the start", get("run.busy_start", "").isEmpty() ? "none above 20% CPU"
                : get("run.busy_start", "") + " (CPU %, from `ps`)");
        line("");
        Double load = null;
        try {
            load = Double.parseDouble(get("run.load_start", "0").split("\\s+")[0]);
        } catch (NumberFormatException ignored) {
            // unknown
        }
        double cores = Double.parseDouble(get("machine.cores", "1"));
        boolean othersBusy = !get("run.busy_start", "").isEmpty();
        if (load != null && (othersBusy || load > cores)) {
            line("**The machine was busy.** The load average was " + load + " on " + (int) cores
                    + " cores when the run started (other work shares the machine), and each table shows the "
                    + "load during its step. Absolute rates are therefore low and noisy; the ratios between "
                    + "systems measured in this same run are the figures to read.");
            line("");
        } else if (load != null) {
            line("No other process used more than 20% of a CPU when the run started (the 1-minute load average, "
                    + load + " on " + (int) cores + " cores, was the tail of earlier work). The run's own steps "
                    + "load the machine, and each table shows the load during its step: with 2 cores, a system's "
                    + "server or importer competes with its own clients.");
            line("");
        }
    }

    private void evaluateTargets(long largest) {
        // 1. store ingest >= 50% of the raw appender
        StringBuilder f = new StringBuilder();
        Boolean met = null;
        for (long n : sizes) {
            Double ratio = div(num("ingest.store." + n + ".events_per_s"), num("ingest.raw." + n + ".events_per_s"));
            if (ratio != null) {
                f.append(f.length() == 0 ? "" : "; ").append(events(n)).append(": ").append(pct(ratio));
                met = (met == null || met) && ratio >= 0.5;
            }
        }
        target("Store ingest ≥ 50% of the raw appender", f, met, "ingest");

        // 2. durable ingest >= 3x PostgreSQL
        f = new StringBuilder();
        met = null;
        for (long n : durableSizes) {
            for (int p : producers) {
                Double ratio = div(num("durable.store." + n + "." + p + ".events_per_s"),
                        num("durable.pg." + n + "." + p + ".events_per_s"));
                if (ratio != null) {
                    f.append(f.length() == 0 ? "" : "; ").append(events(n)).append(" × ").append(p).append(": ")
                            .append(x(ratio));
                    met = (met == null || met) && ratio >= 3;
                }
            }
        }
        target("Durable ingest ≥ 3× PostgreSQL COPY with primary key", f, met, "durable");

        // 3. billing queries >= 10x faster than PostgreSQL at 10M
        long at = sizes.contains(10_000_000L) ? 10_000_000L : largest;
        f = new StringBuilder();
        boolean anyMissing = false;
        boolean anyBelow = false;
        for (Billing.Query q : Billing.Query.values()) {
            Double ratio = div(num("query.pg." + at + "." + q.key + ".p50_ms"), num("query.store." + at + "." + q.key + ".p50_ms"));
            f.append(f.length() == 0 ? "" : "; ").append(q.key).append(": ").append(ratio == null ? "—" : x(ratio));
            anyMissing |= ratio == null;
            anyBelow |= ratio != null && ratio < 10;
        }
        if (at != 10_000_000L) {
            f.append(" (at ").append(events(at)).append(": this run did not include 10M)");
        }
        met = anyBelow ? Boolean.FALSE : anyMissing || at != 10_000_000L ? null : Boolean.TRUE;
        target("Billing queries ≥ 10× faster than PostgreSQL at 10M (p50)", f, met, "queries");

        // 4. monthly total p99 < 50 ms at 100M
        Double p99 = num("query.store.100000000.monthly_total.p99_ms");
        if (p99 != null) {
            target("Monthly per-subject total p99 < 50 ms at 100M stored",
                    new StringBuilder(ms(p99) + " ms"), p99 < 50, "queries");
        } else {
            Double proxy = num("query.store." + largest + ".monthly_total.p99_ms");
            target("Monthly per-subject total p99 < 50 ms at 100M stored",
                    new StringBuilder("not measured: 100M needs `--with-100m`; at " + events(largest) + ": "
                            + ms(proxy) + " ms"), null, "queries");
        }

        // 5. ingest at 100M >= 80% of ingest at 1M
        long growthRun = largest;
        Double first = growthRate(growthRun, true);
        Double last = growthRate(growthRun, false);
        Double ratio = div(last, first);
        String what = "rate of the last " + events(Suite.chunk(growthRun)) + " appended up to " + events(growthRun)
                + " stored: " + rate(last) + " events/s; of the first " + events(Suite.chunk(growthRun))
                + (growthRun > 1_000_000 ? " after 1M stored" : "") + ": " + rate(first) + " events/s; "
                + pct(ratio);
        if (growthRun >= 100_000_000L) {
            target("Ingest at 100M stored ≥ 80% of ingest at 1M", new StringBuilder(what),
                    ratio == null ? null : ratio >= 0.8, "growth");
        } else {
            target("Ingest at 100M stored ≥ 80% of ingest at 1M",
                    new StringBuilder("not measured: 100M needs `--with-100m`; the same ratio up to " + events(growthRun)
                            + ": " + what), null, "growth");
        }
    }

    /** The store's rate in the first chunk after 1M stored (or the first chunk), or in the last chunk. */
    private Double growthRate(long run, boolean first) {
        TreeSet<Long> at = new TreeSet<>();
        String prefix = "growth.store." + run + ".rate_at.";
        for (String k : r.keySet()) {
            if (k.startsWith(prefix)) {
                at.add(Long.parseLong(k.substring(prefix.length())));
            }
        }
        if (at.isEmpty()) {
            return null;
        }
        if (!first) {
            return num(prefix + at.last());
        }
        Long after = at.higher(Math.min(1_000_000L, run - 1));
        Long k = run > 1_000_000 && after != null ? after : at.first();
        return num(prefix + k);
    }

    private void target(String name, StringBuilder figure, Boolean met, String section) {
        targets.add(new String[] {name, figure.length() == 0 ? "—" : figure.toString(),
            met == null ? "not measured" : met ? "**met**" : "**missed**", section});
    }

    private void targets() {
        line("## Targets");
        line("");
        header("target", "figure in this run", "met", "details");
        for (String[] t : targets) {
            row(t[0], t[1], t[2], "[" + t[3] + "](#" + anchor(t[3]) + ")");
        }
        line("");
        line("Where a target is missed, [Where the time goes](#where-the-time-goes) shows the profile of the step "
                + "(JFR execution and native-method samples), and the PostgreSQL plans are in the "
                + "[appendix](#appendix-postgresql-plans).");
        line("");
    }

    private static String anchor(String section) {
        return switch (section) {
            case "ingest" -> "1-ingest";
            case "durable" -> "2-durable-ingest";
            case "queries" -> "3-billing-queries";
            case "growth" -> "4-growth";
            default -> section;
        };
    }

    private void ingest() {
        line("## 1. Ingest");
        line("");
        line("The same events (the synthetic LLM-API workload: 20 tenants, 1,000 subjects, 30 days, in arrival "
                + "order) in batches of 1,000, one transaction per batch, one producer. **Engine limit**: a bare "
                + "`DuckDBAppender` into one table of the segment schema. **Tally**: `UsageStore.append` (validation, "
                + "duplicate check against every tier, import position, rollover and sealing to Parquet on the "
                + "store's own thread). **PostgreSQL**: `COPY` into a temporary table, then `INSERT … ON CONFLICT "
                + "DO NOTHING` into `usage_events` with its primary key `(tenant, id)`, `COMMIT` with "
                + "`synchronous_commit = on`. Only the write calls are timed, not building the events.");
        line("");
        header("events", "engine limit (events/s)", "Tally (events/s)", "PostgreSQL (events/s)",
                "Tally / engine limit", "Tally / PostgreSQL", "load average");
        for (long n : sizes) {
            Double raw = num("ingest.raw." + n + ".events_per_s");
            Double st = num("ingest.store." + n + ".events_per_s");
            Double pg = num("ingest.pg." + n + ".events_per_s");
            row(events(n), rate(raw), rate(st), rate(pg), pct(div(st, raw)), x(div(st, pg)),
                    ms(num("ingest.store." + n + ".load_avg")));
        }
        line("");
        for (long n : sizes) {
            Double idx = num("ingest.pg." + n + ".index_seconds");
            if (idx != null) {
                line("PostgreSQL at " + events(n) + " then built its query indexes in " + ms(idx) + " s and ran "
                        + "`VACUUM ANALYZE` in " + ms(num("ingest.pg." + n + ".vacuum_analyze_seconds")) + " s; "
                        + "Tally's final `sealNow()` took " + ms(num("footprint.store." + n + ".seal_now_seconds"))
                        + " s. Neither is in the rates above.");
                line("");
            }
        }
    }

    private void durable() {
        line("## 2. Durable ingest");
        line("");
        line("Each producer writes its share in batches of 1,000 and waits for the acknowledgement. **Tally**: "
                + "`Journal.append` returns after its write group is fsynced (group commit across producers); "
                + "one importer thread moves the journal into the active segment meanwhile and reaps imported "
                + "journal files, as the worker does; end to end is from the first append until the last event "
                + "is in the store. **PostgreSQL**: one connection per producer, each batch `COPY` + "
                + "`INSERT … ON CONFLICT DO NOTHING` + `COMMIT` with `synchronous_commit = on` (durable on return). "
                + "Ack latency: the time one batch call took. A failed import pass is retried, as the worker's "
                + "loop does; the committed positions stay where they were.");
        line("");
        header("events", "producers", "Tally end to end (events/s)", "Tally journal acks (events/s)",
                "Tally ack p50 / p99 (ms)", "import lag after the last ack (s)", "failed import passes",
                "PostgreSQL (events/s)",
                "PostgreSQL ack p50 / p99 (ms)", "Tally / PostgreSQL");
        for (long n : durableSizes) {
            for (int p : producers) {
                String k = "durable.store." + n + "." + p + ".";
                String g = "durable.pg." + n + "." + p + ".";
                row(events(n), p, rate(num(k + "events_per_s")), rate(num(k + "journal_events_per_s")),
                        ms(num(k + "p50_ack_ms")) + " / " + ms(num(k + "p99_ack_ms")), ms(num(k + "import_lag_seconds")),
                        get(k + "import_retries", "—"),
                        rate(num(g + "events_per_s")), ms(num(g + "p50_ack_ms")) + " / " + ms(num(g + "p99_ack_ms")),
                        x(div(num(k + "events_per_s"), num(g + "events_per_s"))));
            }
        }
        line("");
        httpIngest();
        line("**The disk** (the physical limit for the journal): sequential appends to one file with "
                + "`FileChannel.force` after every block, 3 s per block size, on the file system the run used.");
        line("");
        header("block", "MB/s", "fsyncs/s", "p50 write + fsync (ms)", "p99 write + fsync (ms)");
        for (String b : new String[] {"4k", "64k", "1024k"}) {
            String k = "disk." + b + ".";
            row(b.equals("1024k") ? "1 MiB" : b.replace("k", " KiB"), ms(num(k + "mb_per_s")),
                    rate(num(k + "fsyncs_per_s")), ms(num(k + "p50_ms")), ms(num(k + "p99_ms")));
        }
        line("");
    }

    /**
     * The HTTP ingest step's rows, when the run has any: a real worker (its HTTP API and import
     * loop, default settings) in its own JVM, and a java.net.http load generator.
     */
    private void httpIngest() {
        List<String[]> rows = new ArrayList<>();
        for (long n : durableSizes) {
            for (int batch : new int[] {100, 1_000}) {
                for (int p : producers) {
                    String k = "http.store." + n + "." + p + "." + batch + ".";
                    if (num(k + "events_per_s") == null) {
                        continue;
                    }
                    String d = "durable.store." + n + "." + p + ".";
                    rows.add(new String[] {events(n), String.valueOf(p), events(batch), rate(num(k + "events_per_s")),
                            rate(num(k + "ack_events_per_s")),
                            ms(num(k + "p50_ack_ms")) + " / " + ms(num(k + "p99_ack_ms")),
                            ms(num(k + "import_lag_seconds")),
                            batch == 1_000 ? rate(num(d + "journal_events_per_s")) : "—"});
                }
            }
        }
        if (rows.isEmpty()) {
            return;
        }
        line("**HTTP ingest** (`usage-worker run` with its default settings in its own JVM; a load generator "
                + "with one `java.net.http.HttpClient` per connection posts JSON arrays and waits for each 202, "
                + "which the worker sends once the events are durable in its journal; end to end is from the "
                + "first POST until the worker's `tally_events_accepted_total` counts every event):");
        line("");
        header("events", "connections", "batch", "end to end (events/s)", "acks (events/s)", "ack p50 / p99 (ms)",
                "import lag after the last ack (s)", "journal acks in process, same producers (events/s)");
        for (String[] r : rows) {
            row((Object[]) r);
        }
        line("");
    }

    private void queries() {
        line("## 3. Billing queries");
        line("");
        line("Every query is run " + get("run.query_runs", "?") + " times after 5 warm-up runs, each time for "
                + "another subject or tenant (so no run is answered from the previous run's cache), over the 30 days "
                + "of the workload. Tally answers in process through its meters API (`MeterService`) with the per-part "
                + "result cache off, so every run reads the Parquet parts; the meter service answers from hourly "
                + "rollups where they are exact (a SUM without groups on whole-hour windows) and from detail "
                + "otherwise, and the table says which. PostgreSQL over JDBC on loopback, after building "
                + "`(tenant, subject, time)` and BRIN `(time)` indexes and `VACUUM ANALYZE`. The fingerprint of "
                + "the answers (rows, events, exact sums) must be equal; the last column says whether it is.");
        line("");
        for (Billing.Query q : Billing.Query.values()) {
            line("- `" + q.key + "`: " + q.title + "; SQL: `" + PgBench.Queries.sql(q) + "`");
        }
        line("");
        header("events", "query", "Tally source", "Tally p50 (ms)", "Tally p99 (ms)", "PostgreSQL p50 (ms)",
                "PostgreSQL p99 (ms)", "PostgreSQL / Tally (p50)", "same answers");
        for (long n : sizes) {
            for (Billing.Query q : Billing.Query.values()) {
                String s = "query.store." + n + "." + q.key + ".";
                String g = "query.pg." + n + "." + q.key + ".";
                String st = get(s + "status", "not run");
                String tally50 = st.equals("ok") ? ms(num(s + "p50_ms")) : st;
                String same;
                String cs = r.get(s + "check");
                String cg = r.get(g + "check");
                if (cs == null || cg == null) {
                    same = "—";
                } else if (q == Billing.Query.P95_LATENCY) {
                    same = cs.equals(cg) ? "yes (rows and events)" : "**no**: " + cs + " vs " + cg;
                } else {
                    same = cs.equals(cg) ? "yes" : "**no**: " + cs + " vs " + cg;
                }
                row(events(n), q.key, get(s + "source", "—"), tally50, ms(num(s + "p99_ms")), ms(num(g + "p50_ms")), ms(num(g + "p99_ms")),
                        x(div(num(g + "p50_ms"), num(s + "p50_ms"))), same);
            }
        }
        line("");
        line("Rollups against detail: the same `monthly_total` question answered by Tally from detail "
                + "(`detailOnly`), in the same step. The other three queries need every event's value (a group "
                + "by a property, distinct users, a percentile), so they are always answered from detail.");
        line("");
        header("events", "monthly_total from rollups p50 / p99 (ms)", "from detail p50 / p99 (ms)",
                "detail / rollups (p50)");
        for (long n : sizes) {
            String s = "query.store." + n + ".monthly_total.";
            String d = "query.store-detail." + n + ".monthly_total.";
            row(events(n), ms(num(s + "p50_ms")) + " / " + ms(num(s + "p99_ms")),
                    ms(num(d + "p50_ms")) + " / " + ms(num(d + "p99_ms")), x(div(num(d + "p50_ms"), num(s + "p50_ms"))));
        }
        line("");
    }

    private void growth(String png, long largest) {
        line("## 4. Growth");
        line("");
        line("![Ingest rate and query latency as stored data grows](" + png + ")");
        line("");
        line("Left: the ingest rate of every " + events(Suite.chunk(largest)) + " events of the largest run of each "
                + "system as the stored data grows (Tally's seals run meanwhile). Right: p50 latency of each billing "
                + "query with that much stored (Tally at every checkpoint of its runs, PostgreSQL at the end of each "
                + "run). Does dedup or sealing slow appends as archives grow? The table compares the first "
                + "chunk after 1M stored (or the first chunk) with the last one.");
        line("");
        header("system", "run", "early rate (events/s)", "final rate (events/s)", "final / early");
        for (String sys : new String[] {"store", "raw", "pg"}) {
            for (long n : sizes) {
                TreeSet<Long> at = new TreeSet<>();
                String prefix = "growth." + sys + "." + n + ".rate_at.";
                for (String k : r.keySet()) {
                    if (k.startsWith(prefix)) {
                        at.add(Long.parseLong(k.substring(prefix.length())));
                    }
                }
                if (at.isEmpty()) {
                    continue;
                }
                Long after = at.higher(Math.min(1_000_000L, n - 1));
                long early = n > 1_000_000 && after != null ? after : at.first();
                Double e = num(prefix + early);
                Double l = num(prefix + at.last());
                row(name(sys), events(n) + " (early: up to " + events(early) + ")", rate(e), rate(l), pct(div(l, e)));
            }
        }
        line("");
        boolean any = false;
        for (long n : sizes) {
            for (long c : Suite.checkpoints(n)) {
                if (!any) {
                    line("Tally's queries at the checkpoints of its runs (before the end of the run; pending seals "
                            + "finished first):");
                    line("");
                    header("run", "stored", "query", "p50 (ms)", "p99 (ms)");
                    any = true;
                }
                for (Billing.Query q : Billing.Query.values()) {
                    String k = "growth.store." + n + ".at." + c + "." + q.key + ".";
                    if (get(k + "status", "").equals("ok")) {
                        row(events(n), events(c), q.key, ms(num(k + "p50_ms")), ms(num(k + "p99_ms")));
                    }
                }
            }
        }
        if (any) {
            line("");
        }
    }

    static String name(String sys) {
        return switch (sys) {
            case "store" -> "Tally";
            case "raw" -> "engine limit";
            case "pg" -> "PostgreSQL";
            default -> sys;
        };
    }

    private void footprint(long largest) {
        line("## 5. Footprint");
        line("");
        line("Peak RSS is `VmHWM` from `/proc` of each system's own process: the Tally and engine-limit JVMs "
                + "(heap limit `-Xmx" + get("run.heap", "?") + "`; ingest, seal and queries), and the PostgreSQL "
                + "backend that ingested and the one that queried (shared buffers they touched included). Bytes per "
                + "event: Tally's DuckDB tier (active and pending segments with their WAL, just before the final "
                + "seal), its sealed Parquet detail and hourly rollups after sealing everything, and the whole data "
                + "directory at the end; PostgreSQL's table (with TOAST) and indexes (`pg_table_size`, "
                + "`pg_indexes_size`, `pg_total_relation_size`).");
        line("");
        header("events", "system", "peak RSS", "bytes/event", "what");
        for (long n : sizes) {
            String s = "footprint.store." + n + ".";
            Double activeRows = num(s + "active_rows");
            row(events(n), "Tally", bytes(num(s + "peak_rss")),
                    activeRows == null || activeRows == 0 ? "—" : perEvent(num(s + "active_bytes"), activeRows),
                    "active DuckDB segment" + (activeRows == null ? "" : String.format(Locale.ROOT, " (%,.0f rows)", activeRows)));
            row("", "", "", perEvent(num(s + "detail_bytes"), n), "sealed Parquet detail");
            row("", "", "", perEvent(num(s + "rollup_bytes"), n), "sealed Parquet hourly rollups");
            row("", "", "", perEvent(num(s + "dir_bytes"), n), "data directory after sealing ("
                    + bytes(num(s + "dir_bytes")) + ")");
            row(events(n), "engine limit", bytes(num("footprint.raw." + n + ".peak_rss")),
                    perEvent(num("footprint.raw." + n + ".dir_bytes"), n), "one DuckDB table");
            String g = "footprint.pg." + n + ".";
            row(events(n), "PostgreSQL", bytes(num(g + "ingest_backend_peak_rss")) + " ingest, "
                    + bytes(num(g + "query_backend_peak_rss")) + " queries", perEvent(num(g + "table_bytes"), n),
                    "table");
            row("", "", "", perEvent(num(g + "index_bytes"), n), "indexes (primary key, (tenant, subject, time), BRIN)");
            row("", "", "", perEvent(num(g + "total_bytes"), n), "total (" + bytes(num(g + "total_bytes")) + ")");
        }
        line("");
        // Disk needed for 100M, from the largest run of at least 10M (or the largest).
        long basis = largest;
        Double store = num("footprint.store." + basis + ".dir_bytes");
        Double active = num("footprint.store." + basis + ".active_bytes");
        Double raw = num("footprint.raw." + basis + ".dir_bytes");
        Double pg = num("footprint.pg." + basis + ".total_bytes");
        if (store != null && raw != null && pg != null) {
            double f = 100_000_000.0 / basis;
            double storeNeed = (store + (active == null ? 0 : active)) * f;
            double rawNeed = raw * f;
            double pgNeed = pg * f;
            double wal = 8.0 * (1L << 30);
            double total = Math.max(storeNeed, rawNeed) + pgNeed + wal;
            line("**Disk space for `--with-100m`**, scaled from the " + events(basis) + " run's bytes per event: "
                    + "Tally " + bytes(storeNeed) + " (sealed data plus one DuckDB tier's worth), engine limit "
                    + bytes(rawNeed) + ", PostgreSQL " + bytes(pgNeed) + " plus up to 8 GiB of WAL (`max_wal_size`). "
                    + "Each step deletes its files when it ends, but PostgreSQL keeps its table until the next size, "
                    + "so the run needs about **" + bytes(total) + "** free where `--dir` points.");
            line("");
        }
    }

    private void profiles() {
        line("## Where the time goes");
        line("");
        line("JFR (`settings=profile`) recorded every step. For each phase: where Java threads were "
                + "(`jdk.ExecutionSample`, top frame), which native methods threads were in "
                + "(`jdk.NativeMethodSample`, top frame; DuckDB's engine and file I/O run there; idle waits left "
                + "out), and the innermost Tally frame of both kinds of sample, which says which part of the "
                + "store the time belongs to. Shares are of that phase's samples.");
        line("");
        TreeSet<String> phases = new TreeSet<>();
        for (String k : r.keySet()) {
            if (k.startsWith("profile.") && k.endsWith(".java_top")) {
                phases.add(k.substring("profile.".length(), k.length() - ".java_top".length()));
            }
        }
        if (phases.isEmpty()) {
            line("(No profile was recorded.)");
            line("");
            return;
        }
        for (String p : phases) {
            String k = "profile." + p + ".";
            line("**" + p + "** (" + get(k + "execution_samples", "0") + " execution, " + get(k + "native_samples", "0")
                    + " native samples)");
            line("");
            line("- Tally frames: " + orDash(get(k + "tally_top", "")));
            line("- native: " + orDash(get(k + "native_top", "")));
            line("- Java: " + orDash(get(k + "java_top", "")));
            line("");
        }
    }

    private static String orDash(String s) {
        return s.isEmpty() ? "—" : s;
    }

    private void steps() {
        line("## Steps");
        line("");
        line("Each step ran in its own JVM with a time limit; a failed step leaves its figures as \"—\".");
        line("");
        header("step", "status", "seconds");
        for (String k : r.keySet()) {
            if (k.startsWith("step.") && k.endsWith(".status")) {
                String step = k.substring(5, k.length() - 7);
                String warn = r.get("step." + step + ".warning");
                row(step, r.get(k) + (warn == null ? "" : "; logged: " + warn.replace("|", "/")),
                        get("step." + step + ".seconds", "—"));
            }
        }
        line("");
    }

    private void method() {
        line("## How it is measured");
        line("");
        line("- One command builds the benchmarks, starts a PostgreSQL server of its own (`initdb` and `pg_ctl` "
                + "in a temporary directory, listening on 127.0.0.1 only, on a free port, as an unprivileged user), "
                + "runs every step in its own JVM, stops the server and deletes its files, and writes this page.");
        line("- Order: the fsync limit; then for each size the engine limit, Tally and PostgreSQL one after the "
                + "other; then the durable runs, Tally and PostgreSQL alternating for each number of producers. "
                + "Each system starts from an empty store or table.");
        line("- Every system gets the same events: the workload is deterministic for its seed, and its end "
                + "instant is fixed once per run. The query fingerprints confirm that both systems hold the same "
                + "data and answer the same.");
        line("- Timed: only the calls that write (append, appender and commit, COPY and INSERT and COMMIT) or "
                + "query; building the events is not, except in the durable runs, where each producer builds its "
                + "batches in its own thread (the same for both systems).");
        line("- The machine is shared: compare systems within this run, not with other runs.");
        line("");
    }

    private void others(Path doc) {
        line("## Other benchmarks");
        line("");
        Path dir = doc.toAbsolutePath().getParent();
        String[][] others = {
            {"benchmarks-notes.md", "a reading of the last run: what limits each missed target (written by hand)"},
            {"benchmarks-journal.md", "journal append throughput and ack latency by batch size and threads"},
            {"benchmarks-ingest.md", "journal import and HTTP ingest after parse-once, with a profile of the import"},
            {"benchmarks-query.md", "meter query latency, rollups against detail"},
            {"benchmarks-scale.md", "the dedup index alone to 200M keys, and one store grown to 100M events"},
            {"benchmarks-verify.md", "verification and repair timings"}};
        for (String[] o : others) {
            if (dir != null && Files.exists(dir.resolve(o[0]))) {
                line("- [" + o[0] + "](" + o[0] + "): " + o[1]);
            }
        }
        line("");
    }

    private void plans() {
        line("## Appendix: PostgreSQL plans");
        line("");
        line("`EXPLAIN (ANALYZE, BUFFERS)` of each query's first run at each size.");
        line("");
        for (long n : sizes) {
            for (Billing.Query q : Billing.Query.values()) {
                String plan = r.get("explain.pg." + n + "." + q.key);
                if (plan == null) {
                    continue;
                }
                line("<details><summary>" + events(n) + " " + q.key + "</summary>");
                line("");
                line("```");
                for (String l : plan.split(" \\|( |$)")) {
                    if (!l.isBlank()) {
                        line(l);
                    }
                }
                line("```");
                line("</details>");
                line("");
            }
        }
    }
}
