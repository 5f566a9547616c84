package dev.tally.store.read;

import java.time.Instant;

/** What the manifest says of a published Parquet part. Immutable. */
public interface PartInfo {
    /** Path relative to the data directory: the part's identity. */
    String path();

    /** Whether it holds hourly rollups (else detail: one row per event). */
    boolean rollup();

    long rows();

    /** Oldest event time (rollups: oldest hour). */
    Instant minTime();

    /** Newest event time (rollups: newest hour start). */
    Instant maxTime();

    /** CRC32C of the whole file: with the path, what a cache keys a part's results by. */
    long crc32c();

    /** Whether every row falls in {@code [from, to)}. */
    boolean within(Instant from, Instant to);
}
