package dev.tally.store.internal;

import dev.tally.store.dedup.DedupIndex;

import java.io.IOException;
import java.nio.file.Path;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Pass 8 of recovery, after {@link StoreLoader}'s passes (pending segments are sealed after it): every
 * stored key hash, mapped to the segment that holds it. Sealed detail is read from the parts' key
 * sidecars ({@link KeysFile}, 8 bytes an event, in parallel); only a part whose sidecar is missing
 * or damaged is read through the engine, and its sidecar is written again. Live segments are read
 * from DuckDB (at most a few segments). A report-only store refuses appends, so it builds no index.
 *
 * <p>Not thread-safe: runs once, on the opening thread, before the store is shared (its sidecar
 * loads fan out to a pool it owns and waits for).
 */
final class DedupLoader {
    private static final Logger log = LoggerFactory.getLogger(DedupLoader.class);

    private final StoreContext ctx;
    private final TierState tiers;
    private final ActiveWriter writer;
    private final StoreMaintenance maintenance;

    DedupLoader(StoreContext ctx, TierState tiers, ActiveWriter writer, StoreMaintenance maintenance) {
        this.ctx = ctx;
        this.tiers = tiers;
        this.writer = writer;
        this.maintenance = maintenance;
    }

    void load() throws SQLException, IOException {
        if (ctx.config().readOnly()) {
            return;
        }
        DedupIndex dedup = ctx.dedup();
        long started = System.nanoTime();
        TierView v = tiers.acquireView();
        try {
            List<SealedPart> detail = v.manifest().parts(PartKind.DETAIL);
            long total = 0;
            for (SealedPart p : detail) {
                total += p.rows();
            }
            for (SegmentHandle h : v.segments()) {
                total += h.rows();
            }
            dedup.reserve(total);
            List<SealedPart> missing = loadSidecars(v, detail);
            // A statement per read: the driver closes one whose query failed.
            for (SealedPart p : missing) {
                PartHandle h = v.part(p.path());
                long[] keys;
                try (Statement s = writer.connection().createStatement()) {
                    keys = readHashes(s, PartHandle.parquetSource(List.of(h), ""), p.rows());
                } catch (SQLException e) {
                    // A damaged part must not keep the store from opening: it is quarantined, as
                    // a read that finds it would, and its events are reported lost there.
                    String problem = Quarantine.contentProblem(ctx.files(), p);
                    if (problem == null) {
                        throw e;
                    }
                    log.error("damaged archive part {} ({} rows {}..{}) found while rebuilding the dedup index: {}",
                            p.path(), p.rows(), p.minTime(), p.maxTime(), problem);
                    maintenance.quarantine(p, problem);
                    continue;
                }
                dedup.putAll(keys, keys.length, p.seq());
                KeysFile.write(KeysFile.of(h.file()), p.seq(), keys, keys.length);
                log.info("rewrote the key sidecar of {} ({} keys): it was missing or damaged", p.path(),
                        keys.length);
            }
            for (SegmentHandle h : v.segments()) {
                try (Statement s = writer.connection().createStatement()) {
                    long[] keys = readHashes(s, h.eventsTable(), h.rows());
                    dedup.putAll(keys, keys.length, h.seq());
                }
            }
            log.info("dedup index: {} ids of {} sealed parts and {} segments in {} ms ({} parts read without a "
                    + "sidecar), {} MiB", dedup.size(), detail.size(), v.segments().size(),
                    (System.nanoTime() - started) / 1_000_000, missing.size(), dedup.memoryBytes() >> 20);
        } finally {
            v.release();
        }
    }

    /** Loads every readable sidecar, one task per part over the cores; returns the parts without one. */
    private List<SealedPart> loadSidecars(TierView v, List<SealedPart> detail) throws IOException {
        DedupIndex dedup = ctx.dedup();
        List<SealedPart> missing = Collections.synchronizedList(new ArrayList<>());
        int threads = Math.max(1, Math.min(detail.size(), Runtime.getRuntime().availableProcessors()));
        ExecutorService pool = Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, "tally-dedup-load");
            t.setDaemon(true);
            return t;
        });
        try {
            List<Future<?>> done = new ArrayList<>();
            for (SealedPart p : detail) {
                Path file = KeysFile.of(v.part(p.path()).file());
                done.add(pool.submit(() -> {
                    // In chunks: a compacted week of a large store holds hundreds of millions of keys.
                    if (!KeysFile.stream(file, p.seq(), p.rows(), (keys, n) -> dedup.putAll(keys, n, p.seq()))) {
                        missing.add(p);
                    }
                    return null;
                }));
            }
            for (var f : done) {
                f.get();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while loading the dedup index", e);
        } catch (ExecutionException e) {
            throw e.getCause() instanceof IOException io ? io
                    : new IOException("loading a key sidecar failed: " + e.getCause(), e.getCause());
        } finally {
            pool.shutdownNow();
        }
        return missing;
    }

    private static long[] readHashes(Statement s, String source, long rows) throws SQLException {
        long[] keys = new long[Math.toIntExact(rows)];
        int n = 0;
        try (ResultSet rs = s.executeQuery("SELECT key_hash FROM " + source)) {
            while (rs.next()) {
                if (n == keys.length) {
                    keys = Arrays.copyOf(keys, Math.max(16, n * 2));
                }
                keys[n++] = rs.getLong(1);
            }
        }
        return n == keys.length ? keys : Arrays.copyOf(keys, n);
    }
}
