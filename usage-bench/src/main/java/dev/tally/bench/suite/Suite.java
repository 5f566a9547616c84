package dev.tally.bench.suite;

import dev.tally.bench.Workload;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.LoggerFactory;

/**
 * Entry point of the side-by-side benchmark suite; {@code bench/all} runs each step in its own JVM
 * (so each system's peak memory is its own, and a failed or stuck step is reported and the rest
 * go on) and then {@code report}. Each step appends its figures to the results file.
 *
 * <pre>
 * Suite disk    RESULTS DIR SECONDS
 * Suite raw     RESULTS DIR EVENTS END
 * Suite store   RESULTS DIR EVENTS END QUERY_RUNS
 * Suite pg      RESULTS JDBC_URL EVENTS END QUERY_RUNS
 * Suite durable RESULTS DIR EVENTS PRODUCERS END
 * Suite pg-durable RESULTS JDBC_URL EVENTS PRODUCERS END
 * Suite http    RESULTS DIR EVENTS CONNECTIONS BATCH END
 * Suite versions RESULTS JDBC_URL
 * Suite growth  RESULTS ingest EVENTS DIR | reopen DIR | query DIR   (GrowthBenchmark; its figures go to DIR/results.txt)
 * Suite profile RESULTS PHASE RECORDING.jfr   (PHASE e.g. store.10000000.ingest)
 * Suite report  RESULTS DOC.md PLOT.png
 * </pre>
 *
 * {@code END} is the workload's end instant (epoch seconds), the same for every step of a run so
 * every system stores the same events.
 */
public final class Suite {
    /** Events per append, COPY or journal batch. */
    static final int BATCH = 1_000;
    static final int TENANTS = 20;
    static final int SUBJECTS = 1_000;
    static final Duration SPAN = Duration.ofDays(30);

    private Suite() {
    }

    /** The ingest workload of a run with {@code events} events: the same for every system. */
    static Workload workload(Instant end, long events) {
        return Workload.ordered(1, TENANTS, SUBJECTS, end, SPAN, events);
    }

    /** Producer {@code i}'s share of a durable-ingest run. */
    static Workload producerWorkload(Instant end, int i, long events) {
        return Workload.ordered(100 + i, TENANTS, SUBJECTS, end, SPAN, events);
    }

    /** Events per growth sample: a twentieth of the run, at least 50,000, in whole batches. */
    static long chunk(long events) {
        long c = Math.max(50_000, events / 20);
        return Math.max(BATCH, c / BATCH * BATCH);
    }

    /** Where the growth queries run: 1M, 10M, 100M stored (those not above {@code events}), and at the end. */
    static List<Long> checkpoints(long events) {
        List<Long> out = new ArrayList<>();
        for (long c = 1_000_000; c < events; c *= 10) {
            out.add(c);
        }
        return out;
    }

    public static void main(String[] args) throws Exception {
        if (LoggerFactory.getLogger("dev.tally") instanceof ch.qos.logback.classic.Logger l) {
            l.setLevel(ch.qos.logback.classic.Level.WARN);
        }
        if (args.length < 2) {
            System.err.println("usage: Suite STEP RESULTS ARGS... (see the class doc)");
            System.exit(2);
        }
        Results out = new Results(Path.of(args[1]));
        switch (args[0]) {
            case "disk" -> DiskBench.run(out, Path.of(args[2]), Double.parseDouble(args[3]));
            // One store grown to 100M (its own results file in its folder; bench/all merges it).
            case "growth" -> GrowthBenchmark.main(java.util.Arrays.copyOfRange(args, 2, args.length));
            case "raw" -> RawBench.run(out, Path.of(args[2]), Long.parseLong(args[3]), end(args[4]));
            case "store" -> StoreBench.run(out, Path.of(args[2]), Long.parseLong(args[3]), end(args[4]),
                    Integer.parseInt(args[5]));
            case "pg" -> PgBench.ingest(out, args[2], Long.parseLong(args[3]), end(args[4]), Integer.parseInt(args[5]));
            case "durable" -> DurableBench.run(out, Path.of(args[2]), Long.parseLong(args[3]), Integer.parseInt(args[4]),
                    end(args[5]));
            case "http" -> HttpBench.run(out, Path.of(args[2]), Long.parseLong(args[3]), Integer.parseInt(args[4]),
                    Integer.parseInt(args[5]), end(args[6]));
            case "pg-durable" -> PgBench.durable(out, args[2], Long.parseLong(args[3]), Integer.parseInt(args[4]),
                    end(args[5]));
            case "versions" -> versions(out, args[2]);
            case "profile" -> Profile.summarize(out, Path.of(args[1]), args[2], Path.of(args[3]));
            case "report" -> Report.write(Path.of(args[1]), Path.of(args[2]), Path.of(args[3]));
            default -> {
                System.err.println("unknown step " + args[0]);
                System.exit(2);
            }
        }
        System.exit(0); // DuckDB and JDBC threads must not keep a finished step alive
    }

    private static Instant end(String epochSeconds) {
        return Instant.ofEpochSecond(Long.parseLong(epochSeconds));
    }

    private static void versions(Results out, String pgUrl) throws Exception {
        out.put("version.java", System.getProperty("java.vm.name") + " " + System.getProperty("java.runtime.version"));
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement s = c.createStatement();
                ResultSet r = s.executeQuery("SELECT version()")) {
            r.next();
            out.put("version.duckdb", r.getString(1) + " (duckdb_jdbc " + c.getMetaData().getDriverVersion() + ")");
        }
        if (!pgUrl.isEmpty()) {
            try (Connection c = DriverManager.getConnection(pgUrl); Statement s = c.createStatement();
                    ResultSet r = s.executeQuery("SELECT version()")) {
                r.next();
                out.put("version.postgres", r.getString(1) + " (pgjdbc " + c.getMetaData().getDriverVersion() + ")");
            }
            try (Connection c = DriverManager.getConnection(pgUrl); Statement s = c.createStatement();
                    ResultSet r = s.executeQuery("SELECT name, setting, coalesce(unit, '') FROM pg_settings WHERE name IN "
                            + "('shared_buffers', 'synchronous_commit', 'fsync', 'wal_level', 'max_wal_size', 'work_mem', "
                            + "'full_page_writes', 'max_parallel_workers_per_gather') ORDER BY 1")) {
                StringBuilder b = new StringBuilder();
                while (r.next()) {
                    b.append(b.length() == 0 ? "" : ", ").append(r.getString(1)).append('=').append(r.getString(2))
                            .append(r.getString(3).isEmpty() ? "" : " × " + r.getString(3));
                }
                out.put("version.postgres_settings", b);
            }
        }
    }
}
