package dev.tally.bench.suite;

import dev.tally.bench.Workload;
import dev.tally.store.UsageEvent;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.DriverManager;
import java.sql.Statement;
import java.time.Instant;
import java.util.List;
import org.duckdb.DuckDBAppender;
import org.duckdb.DuckDBConnection;

/**
 * The engine limit: the same events through a bare {@link DuckDBAppender} into one table of the
 * store's segment schema, one transaction per batch of 1,000 (what the store does), no
 * validation, no duplicate check, no import position, no sealing. Timed like the store: only the
 * appender and commit calls.
 */
final class RawBench {
    private RawBench() {
    }

    static void run(Results out, Path dir, long events, Instant end) throws Exception {
        Files.createDirectories(dir);
        Path file = dir.resolve("raw.duckdb");
        Workload w = Suite.workload(end, events);
        long chunk = Suite.chunk(events);
        long nanos = 0;
        long chunkNanos = 0;
        double loadSum = 0;
        int loadSamples = 0;
        try (DuckDBConnection c = (DuckDBConnection) DriverManager.getConnection("jdbc:duckdb:" + file)) {
            try (Statement s = c.createStatement()) {
                s.execute("CREATE TABLE usage_events (tenant VARCHAR NOT NULL, id VARCHAR NOT NULL, type VARCHAR NOT NULL, "
                        + "subject VARCHAR NOT NULL, source VARCHAR, time TIMESTAMP NOT NULL, data VARCHAR NOT NULL, "
                        + "key_hash BIGINT NOT NULL)");
            }
            c.setAutoCommit(false);
            long done = 0;
            while (done < events) {
                int n = (int) Math.min(Suite.BATCH, events - done);
                List<UsageEvent> batch = w.batch(n);
                long t0 = System.nanoTime();
                try (Statement s = c.createStatement()) {
                    s.execute("SELECT 1"); // opens the transaction, so the appender cannot auto-commit
                }
                try (DuckDBAppender ap = c.createAppender("main", "usage_events")) {
                    long seq = done;
                    for (UsageEvent e : batch) {
                        ap.beginRow();
                        ap.append(e.tenant());
                        ap.append(e.id());
                        ap.append(e.type());
                        ap.append(e.subject());
                        ap.append(e.source());
                        ap.appendEpochMicros(e.time().getEpochSecond() * 1_000_000 + e.time().getNano() / 1_000);
                        ap.append(e.data());
                        ap.append(seq++);
                        ap.endRow();
                    }
                    ap.flush();
                }
                c.commit();
                long d = System.nanoTime() - t0;
                nanos += d;
                chunkNanos += d;
                done += n;
                if (done % chunk == 0 || done == events) {
                    long size = done % chunk == 0 ? chunk : done % chunk;
                    out.put("growth.raw." + events + ".rate_at." + done, size / (chunkNanos / 1e9));
                    chunkNanos = 0;
                    loadSum += Sys.load();
                    loadSamples++;
                }
            }
            String k = "ingest.raw." + events + ".";
            out.put(k + "events_per_s", events / (nanos / 1e9));
            out.put(k + "seconds", nanos / 1e9);
            out.put(k + "load_avg", loadSum / Math.max(1, loadSamples));
            try (Statement s = c.createStatement()) {
                s.execute("CHECKPOINT");
            }
        }
        out.put("footprint.raw." + events + ".dir_bytes", Sys.bytes(dir));
        out.put("footprint.raw." + events + ".peak_rss", Sys.peakRss("self"));
    }
}
