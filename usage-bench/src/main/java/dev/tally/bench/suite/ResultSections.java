package dev.tally.bench.suite;

import static dev.tally.bench.suite.Fmt.bytes;
import static dev.tally.bench.suite.Fmt.events;
import static dev.tally.bench.suite.Fmt.ms;
import static dev.tally.bench.suite.Fmt.name;
import static dev.tally.bench.suite.Fmt.orDash;
import static dev.tally.bench.suite.Fmt.pct;
import static dev.tally.bench.suite.Fmt.perEvent;
import static dev.tally.bench.suite.Fmt.rate;
import static dev.tally.bench.suite.Fmt.x;

import dev.tally.store.engine.Engine;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.TreeSet;

/**
 * The report's measured sections, one method each: ingest, durable ingest, HTTP ingest, billing
 * queries, growth, footprint and the profiles of where the time goes.
 *
 * <p>Not thread-safe: one report is written by one thread.
 */
final class ResultSections extends ReportPart {

    ResultSections(ReportPart first) {
        super(first);
    }

    void ingest() {
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

    void durable() {
        line("## 2. Durable ingest");
        line("");
        line("Each producer writes its share in batches of 1,000 and waits for the acknowledgement. **Tally**: "
                + "`Journal.append` returns after its write group is fsynced (group commit across producers); "
                + "one importer thread moves the journal into the active segment meanwhile (in import batches of "
                + "up to " + String.format(java.util.Locale.ROOT, "%,d", Integer.parseInt(
                        dev.tally.worker.config.Setting.IMPORT_BATCH_SIZE.defaultValue()))
                + " events, the worker's `import.batch-size` default) and reaps imported "
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
    void httpIngest() {
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

    void queries() {
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

    void growth(String png, long largest) {
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

    void footprint(long largest) {
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

    void profiles() {
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

}
