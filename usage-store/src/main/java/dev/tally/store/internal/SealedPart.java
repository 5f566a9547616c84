package dev.tally.store.internal;

import java.time.Instant;
import java.time.LocalDate;
import java.util.Objects;

/**
 * One published Parquet file: the detail or the rollups of one sealed segment for one UTC day.
 * Immutable once published; its identity ({@link #path()} plus {@link #crc32c()}) keys caches.
 *
 * @param seq     sequence of the DuckDB segment it was sealed from
 * @param kind    detail or rollup
 * @param day     the UTC day of its rows
 * @param path    path relative to the data directory
 * @param minTime oldest event time (rollups: oldest hour)
 * @param maxTime newest event time (rollups: newest hour)
 * @param rows    row count, verified against the source at seal time
 * @param bytes   file size
 * @param crc32c  CRC32C of the whole file, checked when the part is read back after damage
 */
public record SealedPart(
        long seq, PartKind kind, LocalDate day, String path, Instant minTime, Instant maxTime, long rows,
        long bytes, long crc32c) {
    public SealedPart {
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(day, "day");
        Objects.requireNonNull(path, "path");
        Objects.requireNonNull(minTime, "minTime");
        Objects.requireNonNull(maxTime, "maxTime");
    }

    /** Whether any row may fall in {@code [from, to)}. */
    public boolean overlaps(Instant from, Instant to) {
        return maxTime.compareTo(from) >= 0 && minTime.isBefore(to);
    }

    /** Whether every row falls in {@code [from, to)}. */
    public boolean within(Instant from, Instant to) {
        return minTime.compareTo(from) >= 0 && maxTime.isBefore(to);
    }
}
