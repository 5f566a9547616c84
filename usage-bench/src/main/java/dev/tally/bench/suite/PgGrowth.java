package dev.tally.bench.suite;

import dev.tally.bench.Workload;
import dev.tally.store.UsageEvent;
import java.io.StringReader;
import java.math.BigDecimal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.postgresql.PGConnection;
import org.postgresql.copy.CopyManager;

/**
 * PostgreSQL beside {@link GrowthBenchmark}: the same ordered workload (same seed, same end, so
 * the same events) built once into a kept cluster, and the same per-subject monthly query
 * measured against it, so the two sides can be measured back to back on a quiet machine.
 * {@code bench/run growth-pg} starts and stops the server; this class only talks JDBC.
 *
 * <pre>
 * usage: PgGrowth load URL DIR EVENTS [END]     COPY the workload in batches, then the peer's indexes
 *        PgGrowth query URL DIR [runs=50]       monthly total of one subject: p50/p99, new subject each run
 * </pre>
 *
 * <p>{@code load} is a bulk build, not the durable-ingest comparison ({@link PgBench} measures
 * that): rows are copied straight into the table in batches of 100,000 (one transaction each),
 * then the primary key {@code (tenant, id)}, the index {@code (tenant, subject, time)} and the
 * BRIN index on {@code time} that {@link PgBench} builds are created, and the table is vacuumed
 * and analyzed. An interrupted load resumes: the rows already committed are skipped in the
 * workload. {@code END} defaults to now; pass a Tally growth run's {@code growth.end} to load the
 * very events that run stored. Figures go to {@code DIR/results.txt} under {@code pg.}.
 * Not thread-safe; not a test.
 */
public final class PgGrowth {
    private static final int COPY_BATCH = 100_000;
    private static final String TABLE = "usage_events";

    private PgGrowth() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 3) {
            throw new IllegalArgumentException("usage: PgGrowth load URL DIR EVENTS [END] | query URL DIR [runs]");
        }
        String url = args[1];
        Path dir = Path.of(args[2]);
        switch (args[0]) {
            case "load" -> load(url, dir, Long.parseLong(args[3]),
                    args.length > 4 && !args[4].isEmpty() ? Instant.parse(args[4]) : null);
            case "query" -> query(url, dir, args.length > 3 ? Integer.parseInt(args[3]) : 50);
            default -> throw new IllegalArgumentException("unknown mode " + args[0] + " (load or query)");
        }
    }

    private static void load(String url, Path dir, long events, Instant endArg) throws Exception {
        Results out = new Results(dir.resolve("results.txt"));
        Map<String, String> prior = Files.exists(dir.resolve("results.txt"))
                ? Results.read(dir.resolve("results.txt")) : Map.of();
        Instant end;
        if (prior.containsKey("pg.end")) {
            // A resumed load must generate the same events as the first attempt.
            end = Instant.parse(prior.get("pg.end"));
            if (Long.parseLong(prior.get("pg.events")) != events) {
                throw new IllegalStateException("this directory was loaded with pg.events=" + prior.get("pg.events"));
            }
        } else {
            end = endArg != null ? endArg : Instant.now();
            out.put("pg.events", events);
            out.put("pg.end", end);
        }
        long already;
        try (Connection c = PgBench.connect(url); Statement s = c.createStatement()) {
            s.execute("CREATE TABLE IF NOT EXISTS " + TABLE + " (tenant text NOT NULL, id text NOT NULL, "
                    + "type text NOT NULL, subject text NOT NULL, source text, time timestamp NOT NULL, "
                    + "data jsonb NOT NULL)");
            try (ResultSet r = s.executeQuery("SELECT count(*) FROM " + TABLE)) {
                r.next();
                already = r.getLong(1);
            }
        }
        Workload w = Suite.workload(end, events);
        if (already > 0) {
            System.out.printf(Locale.ROOT, "# resuming: %,d rows already loaded, skipping them in the workload%n", already);
            for (long skipped = 0; skipped < already; ) {
                int n = (int) Math.min(COPY_BATCH, already - skipped);
                w.batch(n);
                skipped += n;
            }
        }
        long started = System.nanoTime();
        try (Connection c = PgBench.connect(url)) {
            try (Statement s = c.createStatement()) {
                // A bulk build: a lost last batch is found and redone by the resume above.
                s.execute("SET synchronous_commit = off");
            }
            c.setAutoCommit(false);
            CopyManager copy = c.unwrap(PGConnection.class).getCopyAPI();
            StringBuilder csv = new StringBuilder(32 << 20);
            long done = already;
            long lastPrint = System.nanoTime();
            long sinceDone = done;
            while (done < events) {
                int n = (int) Math.min(COPY_BATCH, events - done);
                csv.setLength(0);
                for (UsageEvent e : w.batch(n)) {
                    row(csv, e);
                }
                copy.copyIn("COPY " + TABLE + " FROM STDIN (FORMAT csv)", new StringReader(csv.toString()));
                c.commit();
                done += n;
                long now = System.nanoTime();
                if (now - lastPrint > 30e9 || done == events) {
                    System.out.printf(Locale.ROOT, "# %,d of %,d rows loaded, %,.0f rows/s lately, load %.1f, %.0f s%n",
                            done, events, (done - sinceDone) / ((now - lastPrint) / 1e9), Sys.load(),
                            (now - started) / 1e9);
                    lastPrint = now;
                    sinceDone = done;
                }
            }
            c.setAutoCommit(true);
        }
        out.put("pg.copy_seconds", (System.nanoTime() - started) / 1e9);
        try (Connection c = PgBench.connect(url); Statement s = c.createStatement()) {
            s.execute("SET maintenance_work_mem = '1GB'");
            index(s, "PRIMARY KEY", "ALTER TABLE " + TABLE + " ADD CONSTRAINT usage_events_pkey PRIMARY KEY (tenant, id)",
                    "usage_events_pkey");
            index(s, "(tenant, subject, time)", "CREATE INDEX usage_events_subject ON " + TABLE
                    + " (tenant, subject, time)", "usage_events_subject");
            index(s, "BRIN (time)", "CREATE INDEX usage_events_time ON " + TABLE + " USING brin (time)",
                    "usage_events_time");
            long t0 = System.nanoTime();
            System.out.println("# VACUUM ANALYZE");
            s.execute("VACUUM ANALYZE " + TABLE);
            out.put("pg.vacuum_analyze_seconds", (System.nanoTime() - t0) / 1e9);
            s.execute("CHECKPOINT");
            long rows = longOf(s, "SELECT count(*) FROM " + TABLE);
            if (rows != events) {
                throw new IllegalStateException("expected " + events + " rows, found " + rows);
            }
            out.put("pg.rows", rows);
            out.put("pg.table_bytes", longOf(s, "SELECT pg_table_size('" + TABLE + "')"));
            out.put("pg.index_bytes", longOf(s, "SELECT pg_indexes_size('" + TABLE + "')"));
            out.put("pg.total_bytes", longOf(s, "SELECT pg_total_relation_size('" + TABLE + "')"));
        }
        out.put("pg.load_seconds", (System.nanoTime() - started) / 1e9);
        System.out.printf(Locale.ROOT, "loaded %,d rows in %.0f s%n", events, (System.nanoTime() - started) / 1e9);
    }

    /** Builds one index unless an earlier, interrupted load already built it. */
    private static void index(Statement s, String what, String ddl, String name) throws Exception {
        if (longOf(s, "SELECT count(*) FROM pg_class WHERE relname = '" + name + "'") > 0) {
            System.out.println("# index " + what + " exists");
            return;
        }
        System.out.println("# building index " + what);
        long t0 = System.nanoTime();
        s.execute(ddl);
        double seconds = (System.nanoTime() - t0) / 1e9;
        System.out.printf(Locale.ROOT, "# index %s built in %.0f s%n", what, seconds);
    }

    private static void query(String url, Path dir, int runs) throws Exception {
        Map<String, String> prior = Results.read(dir.resolve("results.txt"));
        if (!prior.containsKey("pg.total_bytes")) {
            throw new IllegalStateException("no finished load in " + dir + " (run bench/run growth-pg load first)");
        }
        Instant end = Instant.parse(prior.get("pg.end"));
        Results out = new Results(dir.resolve("results.txt"));
        Billing.Query q = Billing.Query.MONTHLY_TOTAL;
        try (Connection c = PgBench.connect(url)) {
            PgBench.Queries side = new PgBench.Queries(c);
            for (int i = 0; i < 5; i++) {
                side.run(q, Billing.params(q, runs + i, end, Suite.TENANTS, Suite.SUBJECTS));
            }
            long[] nanos = new long[runs];
            long events = 0;
            BigDecimal value = BigDecimal.ZERO;
            for (int i = 0; i < runs; i++) {
                Billing.Params p = Billing.params(q, i, end, Suite.TENANTS, Suite.SUBJECTS);
                long t0 = System.nanoTime();
                Billing.Answer a = side.run(q, p);
                nanos[i] = System.nanoTime() - t0;
                events += a.events();
                value = value.add(a.value());
            }
            long[] sorted = Sys.sorted(nanos);
            double load = Sys.load();
            out.put("pg.monthly.runs", runs);
            out.put("pg.monthly.p50_ms", Sys.percentile(sorted, 0.5) / 1e6);
            out.put("pg.monthly.p99_ms", Sys.percentile(sorted, 0.99) / 1e6);
            out.put("pg.monthly.events_counted", events);
            out.put("pg.monthly.input_tokens", value.toPlainString());
            out.put("pg.monthly.load_avg", load);
            StringBuilder plan = new StringBuilder();
            try (PreparedStatement ps = c.prepareStatement("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + PgBench.Queries.sql(q))) {
                PgBench.Queries.bind(ps, q, Billing.params(q, 0, end, Suite.TENANTS, Suite.SUBJECTS));
                try (ResultSet r = ps.executeQuery()) {
                    while (r.next()) {
                        plan.append(r.getString(1)).append('\n');
                    }
                }
            }
            System.out.print(plan);
            System.out.printf(Locale.ROOT, "PostgreSQL monthly total of one subject, %,d rows stored: p50 %.1f ms, "
                    + "p99 %.1f ms over %d runs (events counted %,d, input tokens %s), load average %.2f%n",
                    Long.parseLong(prior.get("pg.rows")), Sys.percentile(sorted, 0.5) / 1e6,
                    Sys.percentile(sorted, 0.99) / 1e6, runs, events, value.toPlainString(), load);
        }
    }

    private static void row(StringBuilder csv, UsageEvent e) {
        PgBench.csvRow(csv, e);
    }

    private static long longOf(Statement s, String sql) throws Exception {
        try (ResultSet r = s.executeQuery(sql)) {
            r.next();
            return r.getLong(1);
        }
    }
}
