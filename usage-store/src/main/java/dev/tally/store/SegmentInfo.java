package dev.tally.store;

import java.time.Instant;

/**
 * One segment or sealed part as listed for operators.
 *
 * @param state   where it is in its life
 * @param seq     the segment sequence it belongs to
 * @param path    path relative to the data directory
 * @param minTime oldest event time (null when empty)
 * @param maxTime newest event time (null when empty)
 * @param rows    rows it holds
 * @param bytes   bytes on disk
 */
public record SegmentInfo(State state, long seq, String path, Instant minTime, Instant maxTime, long rows,
        long bytes) {
    /** The tier a file belongs to. */
    public enum State {
        /** The DuckDB segment receiving appends. */
        ACTIVE,
        /** A rolled DuckDB segment waiting to be sealed. */
        PENDING,
        /** Published Parquet detail. */
        SEALED_DETAIL,
        /** Published Parquet hourly rollups. */
        SEALED_ROLLUP,
        /** A part found damaged or missing, moved to {@code quarantine/}; its rows are not read. */
        QUARANTINED
    }
}
