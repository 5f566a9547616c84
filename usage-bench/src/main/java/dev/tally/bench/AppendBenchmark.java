package dev.tally.bench;

import dev.tally.store.AppendResult;
import dev.tally.store.UsageEvent;
import dev.tally.store.UsageStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.DriverManager;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.duckdb.DuckDBAppender;
import org.duckdb.DuckDBConnection;

/**
 * Store append rate against the raw DuckDB appender, in one run, and again with many events
 * already stored (to show that duplicate checking does not slow down as the archive grows).
 *
 * <pre>
 * usage: AppendBenchmark [events=1000000] [stored=10000000] [batch=1000] [dir]   (-Drounds=3, -Draw=false,
 *        -Dunsealed=true)
 * </pre>
 *
 * With {@code -Dunsealed=true} each round also appends into a store whose segment never fills
 * during the run, so nothing is sealed: the raw appender seals nothing either, and the difference
 * between the two store figures is what sealing to Parquet (on the same cores) costs the writer.
 *
 * Not a test: run it with {@code bench/run append}.
 */
public final class AppendBenchmark {
    public static void main(String[] args) throws Exception {
        int events = args.length > 0 ? Integer.parseInt(args[0]) : 1_000_000;
        long stored = args.length > 1 ? Long.parseLong(args[1]) : 10_000_000L;
        int batch = args.length > 2 ? Integer.parseInt(args[2]) : 1_000;
        Path dir = args.length > 3 ? Path.of(args[3]) : Files.createTempDirectory("tally-bench-append");
        Instant now = Instant.now();
        System.out.printf(Locale.ROOT, "append benchmark: %,d events in batches of %,d; %,d stored before the "
                + "second run; cores=%d, max heap=%d MiB%n", events, batch, stored,
                Runtime.getRuntime().availableProcessors(), Runtime.getRuntime().maxMemory() >> 20);

        int rounds = Integer.getInteger("rounds", 3);
        List<List<UsageEvent>> batches = generate(new Workload(1, 20, 1_000, now, Duration.ofDays(30)), events, batch);

        // Raw and store runs alternate, and the medians are compared, so a noisy neighbour that
        // slows one run does not decide the ratio.
        double[] rawBatch = new double[rounds];
        double[] rawSingle = new double[rounds];
        double[] store = new double[rounds];
        // -Draw=false runs the store alone (its CPU time is then comparable across builds on a busy machine).
        boolean raw = Boolean.parseBoolean(System.getProperty("raw", "true"));
        double[] storeCpu = new double[rounds];
        double[] storeThreadMicros = new double[rounds];
        boolean unsealed = Boolean.getBoolean("unsealed");
        double[] storeUnsealed = new double[rounds];
        long total = batches.stream().mapToLong(List::size).sum();
        for (int r = 0; r < rounds; r++) {
            rawBatch[r] = raw ? rawAppender(dir.resolve("raw-batch-" + r + ".duckdb"), batches, true) : Double.NaN;
            long cpu0 = ImportBenchmark.processCpuNanos();
            store[r] = storeAppend(dir.resolve("store-empty-" + r), batches, 0, now, true);
            storeThreadMicros[r] = lastAppendThreadNanos / 1e3 / total;
            storeCpu[r] = total / ((ImportBenchmark.processCpuNanos() - cpu0) / 1e9);
            if (unsealed) {
                storeUnsealed[r] = storeAppend(dir.resolve("store-unsealed-" + r), batches, 0, now, false);
                System.out.printf(Locale.ROOT, "  round %d: store without sealing %,.0f events/s%n", r + 1, storeUnsealed[r]);
            }
            rawSingle[r] = raw ? rawAppender(dir.resolve("raw-single-" + r + ".duckdb"), batches, false) : Double.NaN;
            System.out.printf(Locale.ROOT, "  round %d: raw per-batch %,.0f, store %,.0f (%,.0f per CPU-second, appending "
                    + "thread %.2f us CPU per event), raw single %,.0f events/s%n", r + 1, rawBatch[r], store[r], storeCpu[r],
                    storeThreadMicros[r], rawSingle[r]);
        }
        System.out.printf(Locale.ROOT, "store append, appending thread's CPU per event: %,12.2f us (median of %d)%n",
                median(storeThreadMicros), rounds);
        System.out.printf(Locale.ROOT, "store append per CPU-second (all threads): %,12.0f events (median of %d)%n",
                median(storeCpu), rounds);
        double rb = median(rawBatch);
        double rs = median(rawSingle);
        double st = median(store);
        System.out.printf(Locale.ROOT, "raw appender, one transaction per batch : %,12.0f events/s (median of %d)%n", rb, rounds);
        System.out.printf(Locale.ROOT, "raw appender, one transaction in total  : %,12.0f events/s%n", rs);
        System.out.printf(Locale.ROOT, "store append, empty store               : %,12.0f events/s  (%.0f%% of raw per-batch, %.0f%% of raw single)%n",
                st, 100 * st / rb, 100 * st / rs);
        if (unsealed) {
            double su = median(storeUnsealed);
            System.out.printf(Locale.ROOT, "store append, nothing sealed            : %,12.0f events/s  (%.0f%% of raw per-batch)%n",
                    su, 100 * su / rb);
        }
        if (stored > 0) {
            List<List<UsageEvent>> fresh = generate(new Workload(3, 20, 1_000, now, Duration.ofDays(30)), events, batch);
            double grown = storeAppend(dir.resolve("store-grown"), fresh, stored, now, true);
            System.out.printf(Locale.ROOT, "store append, %,d already stored : %,12.0f events/s  (%.0f%% of the empty-store median)%n",
                    stored, grown, 100 * grown / st);
        }
    }

    private static double median(double[] xs) {
        double[] c = xs.clone();
        java.util.Arrays.sort(c);
        return c[c.length / 2];
    }

    private static List<List<UsageEvent>> generate(Workload w, int events, int batch) {
        List<List<UsageEvent>> out = new ArrayList<>();
        for (int done = 0; done < events; done += batch) {
            out.add(w.batch(Math.min(batch, events - done)));
        }
        return out;
    }

    /** The engine limit: the same rows through a bare DuckDBAppender into one table. */
    static double rawAppender(Path file, List<List<UsageEvent>> batches, boolean commitPerBatch) throws Exception {
        try (DuckDBConnection c = (DuckDBConnection) DriverManager.getConnection("jdbc:duckdb:" + file)) {
            try (Statement s = c.createStatement()) {
                s.execute("CREATE TABLE usage_events (tenant VARCHAR NOT NULL, id VARCHAR NOT NULL, type VARCHAR NOT NULL, "
                        + "subject VARCHAR NOT NULL, source VARCHAR, time TIMESTAMP NOT NULL, data VARCHAR NOT NULL, "
                        + "key_hash BIGINT NOT NULL)");
            }
            long start = System.nanoTime();
            long n = 0;
            c.setAutoCommit(false);
            for (List<UsageEvent> b : batches) {
                try (Statement s = c.createStatement()) {
                    s.execute("SELECT 1");
                }
                try (DuckDBAppender ap = c.createAppender("main", "usage_events")) {
                    for (UsageEvent e : b) {
                        ap.beginRow();
                        ap.append(e.tenant());
                        ap.append(e.id());
                        ap.append(e.type());
                        ap.append(e.subject());
                        ap.append(e.source());
                        ap.appendEpochMicros(e.time().getEpochSecond() * 1_000_000 + e.time().getNano() / 1_000);
                        ap.append(e.data());
                        ap.append(n);
                        ap.endRow();
                        n++;
                    }
                    ap.flush();
                }
                if (commitPerBatch) {
                    c.commit();
                }
            }
            c.commit();
            return n / ((System.nanoTime() - start) / 1e9);
        }
    }

    /** CPU time of the appending thread in the last {@link #storeAppend} loop (ThreadMXBean). */
    static long lastAppendThreadNanos;

    /**
     * Appends {@code batches} to a new store in {@code dir} after {@code prefill} events; with
     * {@code sealing} false its one segment never fills during the run, so nothing is sealed.
     */
    static double storeAppend(Path dir, List<List<UsageEvent>> batches, long prefill, Instant now, boolean sealing) {
        try (UsageStore store = sealing ? UsageStore.builder(dir).build()
                : UsageStore.builder(dir).maxSegmentBytes(1L << 40).build()) {
            if (prefill > 0) {
                Workload w = new Workload(2, 20, 1_000, now, Duration.ofDays(30));
                long t0 = System.nanoTime();
                for (long done = 0; done < prefill; done += 10_000) {
                    store.append(w.batch((int) Math.min(10_000, prefill - done)));
                    if (done % 1_000_000 == 0 && done > 0) {
                        System.out.printf(Locale.ROOT, "  prefill: %,d stored (%.0f s)%n", done, (System.nanoTime() - t0) / 1e9);
                    }
                }
                store.sealNow();
                System.out.printf(Locale.ROOT, "  prefill: %,d stored and sealed in %.0f s%n", prefill, (System.nanoTime() - t0) / 1e9);
            }
            long start = System.nanoTime();
            long thread0 = ImportBenchmark.threadCpuNanos();
            long accepted = 0;
            for (List<UsageEvent> b : batches) {
                AppendResult r = store.append(b);
                accepted += r.accepted();
            }
            double rate = accepted / ((System.nanoTime() - start) / 1e9);
            lastAppendThreadNanos = ImportBenchmark.threadCpuNanos() - thread0;
            if (accepted != batches.stream().mapToLong(List::size).sum()) {
                throw new IllegalStateException("expected every event accepted, got " + accepted);
            }
            return rate;
        }
    }
}
