package dev.tally.store.meter;

import java.math.BigDecimal;
import java.time.OffsetDateTime;
import java.util.Map;

/**
 * One value of a meter query: a window, a subject and a combination of group values.
 *
 * @param windowStart inclusive start, with the zone's offset at that instant; the window's
 *                    natural start clipped to the query's {@code from}
 * @param windowEnd   exclusive end, with the zone's offset at that instant; the natural end
 *                    clipped to the query's {@code to}
 * @param subject     the subject, or null when the query summed subjects together
 * @param groups      dimension name to value (null when the event lacks it), in the query's
 *                    {@code groupBy} order
 * @param value       the aggregated value; null where the aggregation has none (MIN, MAX, AVG,
 *                    LATEST and percentiles over a window without values)
 * @param events      how many events of the meter's type matched in this window and group
 */
public record MeterRow(
        OffsetDateTime windowStart,
        OffsetDateTime windowEnd,
        String subject,
        Map<String, String> groups,
        BigDecimal value,
        long events) {

    /** Decimal places of an AVG value (the storage scale), rounded half-even. */
    public static final int AVG_SCALE = 9;
}
