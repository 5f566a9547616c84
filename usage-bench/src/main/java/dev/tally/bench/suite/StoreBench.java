package dev.tally.bench.suite;

import dev.tally.bench.Workload;
import dev.tally.store.AppendResult;
import dev.tally.store.SegmentInfo;
import dev.tally.store.UsageEvent;
import dev.tally.store.UsageStore;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;

/**
 * Workloads 1, 3, 4 and 5 for Tally: {@code events} events appended through
 * {@link UsageStore#append} in batches of 1,000 into a new store, the rate of every chunk as the
 * store grows, the billing queries at every checkpoint (1M, 10M, 100M stored) and at the end, and
 * the bytes per event of each tier.
 *
 * <p>Timed: only the {@code append} calls (building the events is not). Seals triggered by
 * rollovers run on the store's own thread meanwhile, as in production; before the queries of a
 * checkpoint the run waits until no segment is pending, so a seal does not compete with them.
 */
final class StoreBench {
    private StoreBench() {
    }

    static void run(Results out, Path dir, long events, Instant end, int queryRuns) throws Exception {
        String k = "ingest.store." + events + ".";
        Workload w = Suite.workload(end, events);
        long chunk = Suite.chunk(events);
        List<Long> checkpoints = Suite.checkpoints(events);
        long appendNanos = 0;
        long chunkNanos = 0;
        long accepted = 0;
        double loadSum = 0;
        int loadSamples = 0;
        String phase = "phase.store." + events + ".";
        out.put(phase + "ingest.start", System.currentTimeMillis());
        try (UsageStore store = UsageStore.builder(dir).build(); StoreQueries queries = new StoreQueries(store, false);
                StoreQueries fromDetail = new StoreQueries(store, true)) {
            long done = 0;
            while (done < events) {
                int n = (int) Math.min(Suite.BATCH, events - done);
                List<UsageEvent> batch = w.batch(n);
                long t0 = System.nanoTime();
                AppendResult r = store.append(batch);
                long d = System.nanoTime() - t0;
                appendNanos += d;
                chunkNanos += d;
                accepted += r.accepted();
                done += n;
                if (done % chunk == 0 || done == events) {
                    long size = done % chunk == 0 ? chunk : done % chunk;
                    out.put("growth.store." + events + ".rate_at." + done, size / (chunkNanos / 1e9));
                    chunkNanos = 0;
                    loadSum += Sys.load();
                    loadSamples++;
                }
                if (checkpoints.contains(done)) {
                    waitForSeals(store);
                    Billing.measure(out, "growth.store." + events + ".at." + done, queries, queryRuns, 5, end,
                            w.tenants(), w.subjects());
                }
            }
            out.put(phase + "ingest.end", System.currentTimeMillis());
            if (accepted != events) {
                throw new IllegalStateException("expected " + events + " events accepted, got " + accepted);
            }
            out.put(k + "events_per_s", events / (appendNanos / 1e9));
            out.put(k + "seconds", appendNanos / 1e9);
            out.put(k + "load_avg", loadSum / Math.max(1, loadSamples));
            waitForSeals(store);
            out.put(phase + "query.start", System.currentTimeMillis());
            Billing.measure(out, "query.store." + events, queries, queryRuns, 5, end, w.tenants(), w.subjects());
            Billing.measure(out, "query.store-detail." + events, fromDetail, queryRuns, 5, end, w.tenants(),
                    w.subjects());
            for (Billing.Query q : Billing.Query.values()) {
                if (queries.source(q) != null) {
                    out.put("query.store." + events + "." + q.key + ".source", queries.source(q));
                }
            }
            out.put(phase + "query.end", System.currentTimeMillis());

            // Footprint: the DuckDB tiers as they are, then everything sealed.
            long segRows = 0;
            long segBytes = 0;
            for (SegmentInfo s : store.segments()) {
                if (s.state() == SegmentInfo.State.ACTIVE || s.state() == SegmentInfo.State.PENDING) {
                    segRows += s.rows();
                    segBytes += s.bytes();
                }
            }
            String f = "footprint.store." + events + ".";
            out.put(f + "active_rows", segRows);
            out.put(f + "active_bytes", segBytes);
            long t0 = System.nanoTime();
            store.sealNow();
            out.put(f + "seal_now_seconds", (System.nanoTime() - t0) / 1e9);
            // As maintenance does a day after each day ends: the closed days' parts become one file
            // per month (rollups) and per ISO week (detail) before the queries are timed.
            long tc = System.nanoTime();
            store.compact(true);
            out.put(f + "compact_seconds", (System.nanoTime() - tc) / 1e9);
            long detail = 0;
            long rollup = 0;
            long detailRows = 0;
            for (SegmentInfo s : store.segments()) {
                switch (s.state()) {
                    case SEALED_DETAIL -> {
                        detail += s.bytes();
                        detailRows += s.rows();
                    }
                    case SEALED_ROLLUP -> rollup += s.bytes();
                    default -> {
                    }
                }
            }
            out.put(f + "detail_rows", detailRows);
            out.put(f + "detail_bytes", detail);
            out.put(f + "rollup_bytes", rollup);
        }
        out.put("footprint.store." + events + ".dir_bytes", Sys.bytes(dir));
        out.put("footprint.store." + events + ".peak_rss", Sys.peakRss("self"));
    }

    /** Waits (at most ten minutes) until no segment is pending, i.e. background seals are done. */
    static void waitForSeals(UsageStore store) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofMinutes(10).toNanos();
        while (System.nanoTime() < deadline
                && store.segments().stream().anyMatch(s -> s.state() == SegmentInfo.State.PENDING)) {
            Thread.sleep(100);
        }
    }
}
