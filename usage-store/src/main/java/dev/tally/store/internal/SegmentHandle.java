package dev.tally.store.internal;

import dev.tally.store.io.FileSync;
import dev.tally.store.engine.Engine;
import dev.tally.store.engine.TimeUtil;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One DuckDB segment file attached to the {@link Engine} as {@code seg_<seq>}: the active segment
 * or a pending (rolled, not yet sealed) one.
 *
 * <p>Thread-safe. The statistics are written only by the thread holding the write gate and read
 * by anyone (volatile). The file is detached, and deleted if its rows are published elsewhere,
 * when the last reader releases it after {@link #retire}.
 */
public final class SegmentHandle extends RefCounted implements dev.tally.store.read.SegmentSource {
    private static final Logger log = LoggerFactory.getLogger(SegmentHandle.class);

    /** What happens to the file once no reader holds it. */
    public enum Disposal {
        /** Detach only (store closing; the file is kept). */
        DETACH,
        /** Detach and delete: its rows are published as sealed parts (or it held none). */
        DELETE
    }

    private final Engine engine;
    private final long seq;
    private final Path file;
    private final Path wal;
    private final Instant createdAt;
    /** Bytes of the files before any row (DuckDB's own overhead): the size limit counts growth over it. */
    private final long baseBytes;
    private volatile long rows;
    private volatile long minMicros;
    private volatile long maxMicros;
    private final AtomicReference<Disposal> disposal = new AtomicReference<>();
    private volatile String disposalReason = "";
    private volatile Runnable afterDisposal = () -> { };

    SegmentHandle(Engine engine, long seq, Path file, Path wal, Instant createdAt, long rows, long minMicros,
            long maxMicros) {
        this.engine = engine;
        this.seq = seq;
        this.file = file;
        this.wal = wal;
        this.createdAt = createdAt;
        this.rows = rows;
        this.minMicros = minMicros;
        this.maxMicros = maxMicros;
        this.baseBytes = rows == 0 ? bytesOnDisk() : 0;
    }

    public long seq() {
        return seq;
    }

    public String alias() {
        return Engine.alias(seq);
    }

    /** The fully qualified events table, for SQL. */
    public String eventsTable() {
        return alias() + ".main.usage_events";
    }

    public Path file() {
        return file;
    }

    public Instant createdAt() {
        return createdAt;
    }

    public long rows() {
        return rows;
    }

    /** Oldest event time, or null when empty. */
    public Instant minTime() {
        return rows == 0 ? null : TimeUtil.fromMicros(minMicros);
    }

    /** Newest event time, or null when empty. */
    public Instant maxTime() {
        return rows == 0 ? null : TimeUtil.fromMicros(maxMicros);
    }

    public boolean overlaps(Instant from, Instant to) {
        long f = TimeUtil.toMicros(from);
        long t = TimeUtil.toMicros(to);
        return rows > 0 && maxMicros >= f && minMicros < t;
    }

    /** Bytes on disk: the segment file plus DuckDB's WAL. */
    public long bytesOnDisk() {
        return sizeOf(file) + sizeOf(wal);
    }

    /**
     * Bytes the segment grew by since it was created empty. An empty DuckDB file already takes
     * about 1.5 MiB, so comparing the raw size with a small limit would roll on every batch.
     */
    public long grownBytes() {
        return Math.max(0, bytesOnDisk() - baseBytes);
    }

    private static long sizeOf(Path p) {
        try {
            return Files.size(p);
        } catch (java.io.IOException e) {
            return 0;
        }
    }

    /** Called under the write gate after a commit. */
    void recordAppend(long count, long batchMinMicros, long batchMaxMicros) {
        if (count == 0) {
            return;
        }
        if (rows == 0) {
            minMicros = batchMinMicros;
            maxMicros = batchMaxMicros;
        } else {
            minMicros = Math.min(minMicros, batchMinMicros);
            maxMicros = Math.max(maxMicros, batchMaxMicros);
        }
        rows += count;
    }

    /** Marks the handle for disposal; the store then drops its own reference. */
    void retire(Disposal how, String reason, Runnable afterDisposal) {
        disposal.set(how);
        disposalReason = reason;
        this.afterDisposal = afterDisposal;
        release();
    }

    @Override
    protected void onLastRelease() {
        try {
            dispose(disposal.get());
        } finally {
            afterDisposal.run();
        }
    }

    private void dispose(Disposal how) {
        try {
            engine.execute("DETACH DATABASE IF EXISTS " + alias());
        } catch (java.sql.SQLException e) {
            log.warn("could not detach segment {}: {}", seq, e.getMessage());
            return;
        }
        if (how == Disposal.DELETE) {
            try {
                FileSync.deleteDurably(wal);
                if (FileSync.deleteDurably(file)) {
                    log.info("deleted segment file {} ({})", file.getFileName(), disposalReason);
                }
            } catch (java.io.IOException e) {
                // Recovery deletes it on the next open: its sequence is in the manifest.
                log.warn("could not delete segment file {} ({}): {}", file, disposalReason, e.getMessage());
            }
        }
    }

    @Override
    public String toString() {
        return "segment " + seq + " (" + rows + " rows)";
    }
}
