package dev.tally.store;

import java.math.BigDecimal;

/**
 * Count and exact sum over a time range.
 *
 * @param events  events that matched
 * @param values  events whose value path held a number
 * @param sum     exact sum of those numbers (zero when none)
 */
public record Totals(long events, long values, BigDecimal sum) {
    public static final Totals ZERO = new Totals(0, 0, BigDecimal.ZERO);

    public Totals plus(Totals o) {
        return new Totals(events + o.events, values + o.values, sum.add(o.sum));
    }
}
