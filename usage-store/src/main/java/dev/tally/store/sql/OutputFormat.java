package dev.tally.store.sql;

/** How a {@link SqlResult} is written out. */
public enum OutputFormat {
    /** Aligned text columns with a header rule and a row-count footer, for people. */
    TABLE,
    /** RFC 4180 CSV with a header line; NULL is an empty field; numbers exact and plain. */
    CSV,
    /** {@code {"columns":[{"name","type"}],"rows":[[…]],"rowCount":n,"truncated":b}}; numbers exact. */
    JSON
}
