package dev.tally.store.read;

import java.time.Instant;

/**
 * An active or pending DuckDB segment as a reader sees it: a table of events attached to the
 * store's engine. Valid while the view that returned it is pinned.
 */
public interface SegmentSource {
    long seq();

    /** The fully qualified events table, for SQL. */
    String eventsTable();

    long rows();

    /** Oldest event time in the segment, or null when it holds none. */
    java.time.Instant minTime();

    /** Whether any row may fall in {@code [from, to)}. */
    boolean overlaps(Instant from, Instant to);
}
