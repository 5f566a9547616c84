package dev.tally.store.meter;

/**
 * How a meter turns the events of one window into a value. Values are read from the JSON number
 * at the meter's {@code valueProperty} as exact DECIMAL(38,9); events whose property is missing,
 * null or not a JSON number (a string {@code "12"} is not a number) count as events but add no
 * value. See {@code docs/querying.md}.
 */
public enum Aggregation {
    /** Exact sum of the values; 0 when the window has events but no values. */
    SUM,
    /**
     * Number of events; with a {@code valueProperty}, the number of events whose property holds a
     * number.
     */
    COUNT,
    /** Smallest value; null when the window has no values. */
    MIN,
    /** Largest value; null when the window has no values. */
    MAX,
    /**
     * Exact sum divided by the number of values, rounded half-even to {@value MeterRow#AVG_SCALE}
     * decimal places (the storage scale); null when the window has no values.
     */
    AVG,
    /**
     * Number of distinct values, compared as text: a string's content, a number's plain decimal
     * without trailing zeros (so {@code 2} and {@code 2.0} are one value), or the JSON text of a
     * boolean, object or array. Missing and null values are not counted.
     */
    UNIQUE_COUNT,
    /**
     * The value of the newest event in the window that has one (greatest time, ties broken by the
     * greatest event id); null when none has.
     */
    LATEST,
    /** Discrete median: an observed value (DuckDB {@code quantile_disc}, see {@link #quantile()}). */
    P50,
    /** Discrete 90th percentile: an observed value. */
    P90,
    /** Discrete 95th percentile: an observed value. */
    P95,
    /** Discrete 99th percentile: an observed value. */
    P99;

    /**
     * The quantile of a percentile aggregation, or NaN for the others. Percentiles are DuckDB's
     * {@code quantile_disc(value, q)} on the DECIMAL values, the nearest-rank method: of the n values
     * sorted ascending, the one at 1-based rank {@code ceil(q * n)} (P50 of 4 values is the 2nd,
     * P99 of 4 is the 4th, P95 of 20 is the 19th); always a value that was observed.
     */
    public double quantile() {
        return switch (this) {
            case P50 -> 0.5;
            case P90 -> 0.9;
            case P95 -> 0.95;
            case P99 -> 0.99;
            default -> Double.NaN;
        };
    }

    /** Whether a value property is required ({@link #COUNT} is the only one that may go without). */
    public boolean needsValueProperty() {
        return this != COUNT;
    }

    /** Whether per-part results combine exactly (count, sum, min, max); such results are cached. */
    boolean decomposable() {
        return this == SUM || this == COUNT || this == MIN || this == MAX || this == AVG;
    }
}
