package dev.tally.bench.suite;

import dev.tally.bench.Workload;
import dev.tally.store.UsageEvent;
import java.io.StringReader;
import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.sql.Timestamp;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.postgresql.PGConnection;
import org.postgresql.copy.CopyManager;

/**
 * What a billing team would use instead: PostgreSQL with a {@code usage_events} table keyed by
 * {@code (tenant, id)}. Each batch of 1,000 is one transaction: {@code COPY} into a temporary
 * staging table, then {@code INSERT ... SELECT ... ON CONFLICT DO NOTHING} (duplicates dropped by
 * the primary key), then {@code COMMIT} with {@code synchronous_commit = on}, so a batch is
 * durable when the commit returns, like a journal append.
 *
 * <p>Ingest runs with the primary key as the only index (bulk load); the query indexes
 * ({@code (tenant, subject, time)} and a BRIN index on {@code time}) are built afterwards, timed,
 * and the table is vacuumed and analyzed before the queries.
 */
final class PgBench {

    /** One event as a row of PostgreSQL's CSV COPY format (the column order of the peer's table). */
    static void csvRow(StringBuilder csv, UsageEvent e) {
        csvField(csv, e.tenant()).append(',');
        csvField(csv, e.id()).append(',');
        csvField(csv, e.type()).append(',');
        csvField(csv, e.subject()).append(',');
        csvField(csv, e.source()).append(',');
        csv.append(LocalDateTime.ofEpochSecond(e.time().getEpochSecond(), e.time().getNano(), ZoneOffset.UTC))
                .append(',');
        csvField(csv, e.data()).append('\n');
    }

    private static StringBuilder csvField(StringBuilder csv, String v) {
        if (v == null) {
            return csv;
        }
        csv.append('"');
        for (int i = 0; i < v.length(); i++) {
            char ch = v.charAt(i);
            if (ch == '"') {
                csv.append('"');
            }
            csv.append(ch);
        }
        return csv.append('"');
    }
    static final String TABLE = "CREATE TABLE %s (tenant text NOT NULL, id text NOT NULL, type text NOT NULL, "
            + "subject text NOT NULL, source text, time timestamp NOT NULL, data jsonb NOT NULL, "
            + "PRIMARY KEY (tenant, id))";

    private PgBench() {
    }

    static Connection connect(String url) throws Exception {
        Connection c = DriverManager.getConnection(url);
        try (Statement s = c.createStatement()) {
            s.execute("SET synchronous_commit = on");
        }
        return c;
    }

    /** A producer's connection: a staging table, and auto-commit off. */
    static final class Producer implements AutoCloseable {
        final Connection c;
        final CopyManager copy;
        final PreparedStatement insert;
        final StringBuilder csv = new StringBuilder(1 << 20);

        Producer(String url, String table) throws Exception {
            c = connect(url);
            try (Statement s = c.createStatement()) {
                s.execute("CREATE TEMP TABLE staging (LIKE " + table + ") ON COMMIT DELETE ROWS");
            }
            c.setAutoCommit(false);
            copy = c.unwrap(PGConnection.class).getCopyAPI();
            insert = c.prepareStatement("INSERT INTO " + table + " SELECT * FROM staging ON CONFLICT DO NOTHING");
        }

        /** Writes one batch durably; returns how many rows were new. */
        int write(List<UsageEvent> batch) throws Exception {
            csv.setLength(0);
            for (UsageEvent e : batch) {
                csvRow(csv, e);
            }
            copy.copyIn("COPY staging FROM STDIN (FORMAT csv)", new StringReader(csv.toString()));
            int n = insert.executeUpdate();
            c.commit();
            return n;
        }

        @Override
        public void close() throws Exception {
            c.close();
        }
    }

    static void ingest(Results out, String url, long events, Instant end, int queryRuns) throws Exception {
        String table = "usage_events";
        try (Connection admin = connect(url); Statement s = admin.createStatement()) {
            s.execute("DROP TABLE IF EXISTS " + table);
            s.execute(String.format(TABLE, table));
            s.execute("CHECKPOINT");
        }
        Workload w = Suite.workload(end, events);
        long chunk = Suite.chunk(events);
        long nanos = 0;
        long chunkNanos = 0;
        long stored = 0;
        double loadSum = 0;
        int loadSamples = 0;
        String backendPid;
        try (Producer p = new Producer(url, table)) {
            backendPid = backendPid(p.c);
            long done = 0;
            while (done < events) {
                int n = (int) Math.min(Suite.BATCH, events - done);
                List<UsageEvent> batch = w.batch(n);
                long t0 = System.nanoTime();
                stored += p.write(batch);
                long d = System.nanoTime() - t0;
                nanos += d;
                chunkNanos += d;
                done += n;
                if (done % chunk == 0 || done == events) {
                    long size = done % chunk == 0 ? chunk : done % chunk;
                    out.put("growth.pg." + events + ".rate_at." + done, size / (chunkNanos / 1e9));
                    chunkNanos = 0;
                    loadSum += Sys.load();
                    loadSamples++;
                }
            }
            out.put("footprint.pg." + events + ".ingest_backend_peak_rss", Sys.peakRss(backendPid));
        }
        if (stored != events) {
            throw new IllegalStateException("expected " + events + " rows stored, got " + stored);
        }
        String k = "ingest.pg." + events + ".";
        out.put(k + "events_per_s", events / (nanos / 1e9));
        out.put(k + "seconds", nanos / 1e9);
        out.put(k + "load_avg", loadSum / Math.max(1, loadSamples));
        String f = "footprint.pg." + events + ".";
        try (Connection c = connect(url); Statement s = c.createStatement()) {
            out.put(f + "pk_only_bytes", longOf(s, "SELECT pg_total_relation_size('" + table + "')"));
            long t0 = System.nanoTime();
            s.execute("CREATE INDEX usage_events_subject ON " + table + " (tenant, subject, time)");
            s.execute("CREATE INDEX usage_events_time ON " + table + " USING brin (time)");
            out.put(k + "index_seconds", (System.nanoTime() - t0) / 1e9);
            t0 = System.nanoTime();
            s.execute("VACUUM ANALYZE " + table);
            out.put(k + "vacuum_analyze_seconds", (System.nanoTime() - t0) / 1e9);
            out.put(f + "table_bytes", longOf(s, "SELECT pg_table_size('" + table + "')"));
            out.put(f + "index_bytes", longOf(s, "SELECT pg_indexes_size('" + table + "')"));
            out.put(f + "total_bytes", longOf(s, "SELECT pg_total_relation_size('" + table + "')"));
            String pid = backendPid(c);
            out.put("phase.pg." + events + ".query.start", System.currentTimeMillis());
            Billing.measure(out, "query.pg." + events, new Queries(c), queryRuns, 5, end, w.tenants(), w.subjects());
            out.put("phase.pg." + events + ".query.end", System.currentTimeMillis());
            out.put(f + "query_backend_peak_rss", Sys.peakRss(pid));
            explain(out, c, "explain.pg." + events, end, w);
            // Untimed: the server writes what the step left dirty now, not during the next system's step.
            s.execute("CHECKPOINT");
        }
        out.put(f + "client_peak_rss", Sys.peakRss("self"));
    }

    /** Workload 2 for PostgreSQL: {@code producers} connections, each writing its share in durable batches. */
    static void durable(Results out, String url, long events, int producers, Instant end) throws Exception {
        String table = "usage_events_durable";
        try (Connection admin = connect(url); Statement s = admin.createStatement()) {
            s.execute("DROP TABLE IF EXISTS " + table);
            s.execute(String.format(TABLE, table));
            s.execute("CHECKPOINT");
        }
        long share = events / producers;
        List<long[]> latencies = new ArrayList<>();
        AtomicReference<Throwable> error = new AtomicReference<>();
        List<Thread> threads = new ArrayList<>();
        long[] stored = new long[producers];
        java.util.concurrent.CountDownLatch ready = new java.util.concurrent.CountDownLatch(producers);
        java.util.concurrent.CountDownLatch go = new java.util.concurrent.CountDownLatch(1);
        for (int t = 0; t < producers; t++) {
            int idx = t;
            long mine = t == producers - 1 ? events - share * (producers - 1) : share;
            Thread th = new Thread(() -> {
                try (Producer p = new Producer(url, table)) {
                    Workload w = Suite.producerWorkload(end, idx, mine);
                    long[] lat = new long[(int) (mine / Suite.BATCH + 1)];
                    int n = 0;
                    ready.countDown();
                    go.await();
                    for (long done = 0; done < mine; ) {
                        int b = (int) Math.min(Suite.BATCH, mine - done);
                        List<UsageEvent> batch = w.batch(b);
                        long t0 = System.nanoTime();
                        stored[idx] += p.write(batch);
                        lat[n++] = System.nanoTime() - t0;
                        done += b;
                    }
                    synchronized (latencies) {
                        latencies.add(Arrays.copyOf(lat, n));
                    }
                } catch (Throwable e) {
                    error.compareAndSet(null, e);
                    ready.countDown();
                }
            }, "pg-producer-" + t);
            th.start();
            threads.add(th);
        }
        ready.await();
        long start = System.nanoTime();
        go.countDown();
        for (Thread th : threads) {
            th.join();
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        if (error.get() != null) {
            throw new IllegalStateException("a producer failed", error.get());
        }
        long total = Arrays.stream(stored).sum();
        if (total != events) {
            throw new IllegalStateException("expected " + events + " rows stored, got " + total);
        }
        long[] all = latencies.stream().flatMapToLong(Arrays::stream).sorted().toArray();
        String k = "durable.pg." + events + "." + producers + ".";
        out.put(k + "events_per_s", events / seconds);
        out.put(k + "seconds", seconds);
        out.put(k + "p50_ack_ms", Sys.percentile(all, 0.5) / 1e6);
        out.put(k + "p99_ack_ms", Sys.percentile(all, 0.99) / 1e6);
        out.put(k + "load_avg", Sys.load());
        try (Connection admin = connect(url); Statement s = admin.createStatement()) {
            s.execute("DROP TABLE " + table);
        }
    }

    private static String backendPid(Connection c) throws Exception {
        try (Statement s = c.createStatement(); ResultSet r = s.executeQuery("SELECT pg_backend_pid()")) {
            r.next();
            return Integer.toString(r.getInt(1));
        }
    }

    private static long longOf(Statement s, String sql) throws Exception {
        try (ResultSet r = s.executeQuery(sql)) {
            r.next();
            return r.getLong(1);
        }
    }

    /** EXPLAIN (ANALYZE, BUFFERS) of each query's first run, for the report's appendix. */
    private static void explain(Results out, Connection c, String prefix, Instant end, Workload w) {
        for (Billing.Query q : Billing.Query.values()) {
            Billing.Params p = Billing.params(q, 0, end, w.tenants(), w.subjects());
            try (PreparedStatement ps = c.prepareStatement("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + Queries.sql(q))) {
                Queries.bind(ps, q, p);
                StringBuilder plan = new StringBuilder();
                try (ResultSet r = ps.executeQuery()) {
                    while (r.next()) {
                        plan.append(r.getString(1)).append(" | ");
                    }
                }
                out.put(prefix + "." + q.key, plan.toString());
            } catch (Exception e) {
                out.put(prefix + "." + q.key, "failed: " + e);
            }
        }
    }

    /** The billing queries in SQL. */
    static final class Queries implements Billing.Side {
        private final Connection c;
        private final java.util.Map<Billing.Query, PreparedStatement> prepared = new java.util.EnumMap<>(Billing.Query.class);

        Queries(Connection c) {
            this.c = c;
        }

        static String sql(Billing.Query q) {
            String where = " FROM usage_events WHERE tenant = ? AND type = 'llm.request' AND time >= ? AND time < ?";
            return switch (q) {
                case MONTHLY_TOTAL -> "SELECT count(*), sum((data->>'input_tokens')::numeric)" + where
                        + " AND subject = ?";
                case DAILY_BY_MODEL -> "SELECT date_trunc('day', time), data->>'model', count(*), "
                        + "sum((data->>'input_tokens')::numeric)" + where + " GROUP BY 1, 2 ORDER BY 1, 2";
                case UNIQUE_USERS -> "SELECT subject, count(*), count(DISTINCT data->>'user')" + where
                        + " GROUP BY 1 ORDER BY 1";
                case P95_LATENCY -> "SELECT data->>'model', count(*), percentile_disc(0.95) WITHIN GROUP "
                        + "(ORDER BY (data->>'latency_ms')::numeric)" + where + " GROUP BY 1 ORDER BY 1";
            };
        }

        static void bind(PreparedStatement ps, Billing.Query q, Billing.Params p) throws Exception {
            ps.setString(1, p.tenant());
            ps.setTimestamp(2, Timestamp.valueOf(LocalDateTime.ofInstant(p.from(), ZoneOffset.UTC)));
            ps.setTimestamp(3, Timestamp.valueOf(LocalDateTime.ofInstant(p.to(), ZoneOffset.UTC)));
            if (q == Billing.Query.MONTHLY_TOTAL) {
                ps.setString(4, p.subject());
            }
        }

        @Override
        public Billing.Answer run(Billing.Query q, Billing.Params p) throws Exception {
            PreparedStatement ps = prepared.get(q);
            if (ps == null) {
                ps = c.prepareStatement(sql(q));
                prepared.put(q, ps);
            }
            bind(ps, q, p);
            long rows = 0;
            long events = 0;
            BigDecimal value = BigDecimal.ZERO;
            try (ResultSet r = ps.executeQuery()) {
                while (r.next()) {
                    switch (q) {
                        case MONTHLY_TOTAL -> {
                            events += r.getLong(1);
                            BigDecimal v = r.getBigDecimal(2);
                            value = value.add(v == null ? BigDecimal.ZERO : v);
                            rows += r.getLong(1) > 0 ? 1 : 0;
                        }
                        case DAILY_BY_MODEL -> {
                            rows++;
                            events += r.getLong(3);
                            value = value.add(r.getBigDecimal(4));
                        }
                        case UNIQUE_USERS -> {
                            rows++;
                            events += r.getLong(2);
                            value = value.add(BigDecimal.valueOf(r.getLong(3)));
                        }
                        case P95_LATENCY -> {
                            rows++;
                            events += r.getLong(2);
                        }
                    }
                }
            }
            return new Billing.Answer(rows, events, value);
        }
    }
}
