package dev.tally.store.internal;

import java.time.Instant;
import java.time.LocalDate;
import java.util.List;
import java.util.Objects;

/**
 * One published Parquet file: the detail or the rollups of one sealed segment for one UTC day, or
 * (compacted) of a range of segments for several closed days of one compaction unit (a UTC
 * calendar month of rollups, an ISO week of detail). Immutable once published; its identity
 * ({@link #path()} plus {@link #crc32c()}) keys caches.
 *
 * <p>Thread-safe: immutable.
 *
 * @param seq     sequence of the DuckDB segment it was sealed from; for a compacted part the
 *                highest sequence of its sources
 * @param kind    detail or rollup
 * @param day     the UTC day of its rows; for a compacted part the first day of its unit
 * @param path    path relative to the data directory
 * @param minTime oldest event time (rollups: oldest hour)
 * @param maxTime newest event time (rollups: newest hour)
 * @param rows    row count, verified against the source at seal time
 * @param bytes   file size
 * @param crc32c  CRC32C of the whole file, checked when the part is read back after damage
 * @param compaction what a compacted part merged; null for a part sealed from one segment
 */
public record SealedPart(
        long seq, PartKind kind, LocalDate day, String path, Instant minTime, Instant maxTime, long rows,
        long bytes, long crc32c, Compaction compaction) implements dev.tally.store.read.PartInfo {
    public SealedPart {
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(day, "day");
        Objects.requireNonNull(path, "path");
        Objects.requireNonNull(minTime, "minTime");
        Objects.requireNonNull(maxTime, "maxTime");
        if (compaction != null && compaction.minSeq() > seq) {
            throw new IllegalArgumentException("minSeq = " + compaction.minSeq() + " is above seq = " + seq);
        }
    }

    /** A part sealed from one segment. */
    public SealedPart(long seq, PartKind kind, LocalDate day, String path, Instant minTime, Instant maxTime,
            long rows, long bytes, long crc32c) {
        this(seq, kind, day, path, minTime, maxTime, rows, bytes, crc32c, null);
    }

    /**
     * What a compacted part holds beyond a sealed one.
     *
     * @param minSeq         the lowest segment sequence among its sources
     * @param lostDetailDays (rollups only) the days of this part whose detail is no longer complete:
     *                       already missing when it was compacted, or deleted since (retention,
     *                       quarantine); see {@link DetailCoverage}
     */
    public record Compaction(long minSeq, List<LocalDate> lostDetailDays) {
        public Compaction {
            lostDetailDays = List.copyOf(new java.util.TreeSet<>(lostDetailDays));
        }
    }

    @Override
    public boolean rollup() {
        return kind == PartKind.ROLLUP;
    }

    /** Whether this part was written by compaction (it may hold several segments and days). */
    public boolean compacted() {
        return compaction != null;
    }

    /** The first segment sequence this part holds: {@link #seq()} unless compacted. */
    public long minSeq() {
        return compaction == null ? seq : compaction.minSeq();
    }

    /** Whether this part holds rows of segment {@code s}. */
    public boolean coversSeq(long s) {
        return s >= minSeq() && s <= seq;
    }

    /** The first UTC day with a row in this part. */
    public LocalDate firstDay() {
        return LocalDate.ofInstant(minTime, java.time.ZoneOffset.UTC);
    }

    /** The last UTC day with a row in this part. */
    public LocalDate lastDay() {
        return LocalDate.ofInstant(maxTime, java.time.ZoneOffset.UTC);
    }

    /** The detail days recorded as lost on this (compacted rollup) part. */
    public List<LocalDate> lostDetailDays() {
        return compaction == null ? List.of() : compaction.lostDetailDays();
    }

    /** This part with {@code days} added to its lost detail days (compacted parts only). */
    public SealedPart withLostDetailDays(java.util.Collection<LocalDate> days) {
        List<LocalDate> all = new java.util.ArrayList<>(lostDetailDays());
        all.addAll(days);
        return new SealedPart(seq, kind, day, path, minTime, maxTime, rows, bytes, crc32c,
                new Compaction(minSeq(), all));
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
