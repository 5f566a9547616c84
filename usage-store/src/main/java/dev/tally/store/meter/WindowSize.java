package dev.tally.store.meter;

/**
 * The length of the windows a meter query reports, counted on the wall clock of the query's time
 * zone: a DAY starts at local midnight (so it lasts 23 or 25 hours on a daylight-saving change), a
 * MONTH on the 1st at local midnight. See {@code docs/querying.md} for the exact rule at
 * daylight-saving changes.
 */
public enum WindowSize {
    MINUTE,
    HOUR,
    DAY,
    MONTH,
    /** One window: the whole query range {@code [from, to)}. */
    NONE
}
