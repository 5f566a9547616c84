package dev.tally.store.meter;

import java.util.List;

/**
 * The answer to a {@link MeterQuery}: rows ordered by window start, subject, then group values
 * (nulls first, text in Unicode code point order), plus how it was computed.
 *
 * @param meter          the definition that was applied
 * @param query          the query
 * @param rows           one row per window, subject and group combination with at least one event
 * @param source         whether sealed data was read from hourly rollups or from detail
 * @param plan           why that source was chosen, in words
 * @param partsRead      sealed Parquet parts read for this query
 * @param partsFromCache sealed parts answered from the per-part cache instead
 * @param segmentsRead   active or pending DuckDB segments read (always from detail)
 * @param warnings       why rows may be missing from this answer (a damaged active or pending
 *                       segment the store opened without, a quarantined part in the range), one
 *                       line each starting with {@code "partial: "}; empty when the answer is whole
 */
public record MeterResult(
        MeterDefinition meter,
        MeterQuery query,
        List<MeterRow> rows,
        Source source,
        String plan,
        int partsRead,
        int partsFromCache,
        int segmentsRead,
        List<String> warnings) {

    /** Where a query read sealed data from. */
    public enum Source {
        /**
         * Hourly rollup parts (exact for SUM, COUNT, MIN, MAX and AVG without groups or filters
         * on hour-aligned windows); active and pending segments are read from detail.
         */
        ROLLUP,
        /** Detail parts and segments, event by event. */
        DETAIL
    }

    public MeterResult {
        rows = List.copyOf(rows);
        warnings = List.copyOf(warnings);
    }

    /** Whether rows may be missing from this answer (see {@link #warnings()}). */
    public boolean partial() {
        return !warnings.isEmpty();
    }
}
