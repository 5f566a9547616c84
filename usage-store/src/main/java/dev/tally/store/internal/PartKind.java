package dev.tally.store.internal;

/** What a sealed Parquet part holds. */
public enum PartKind {
    /** Every event, one row each. Kept for {@code detailRetention}. */
    DETAIL,
    /** Hourly aggregates per tenant, type, subject and numeric property. Kept for {@code rollupRetention}. */
    ROLLUP
}
