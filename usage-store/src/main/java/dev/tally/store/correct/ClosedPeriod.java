package dev.tally.store.correct;

import java.time.Instant;
import java.time.YearMonth;
import java.time.ZoneId;

/**
 * A tenant's invoiced month in its time zone: corrections touching an event time in
 * {@code [start, end)} are refused unless forced.
 *
 * @param tenant   whose period
 * @param month    the calendar month in {@code zone}
 * @param zone     the tenant's time zone
 * @param start    the month's first instant
 * @param end      the next month's first instant
 * @param closedAt when it was closed
 * @param actor    who closed it
 */
public record ClosedPeriod(String tenant, YearMonth month, ZoneId zone, Instant start, Instant end, Instant closedAt,
        String actor) {

    /** A name for messages, e.g. {@code acme 2026-11 (Europe/Berlin)}. */
    public String label() {
        return tenant + " " + month + " (" + zone.getId() + ")";
    }

    /** True when {@code t} lies in the period. */
    public boolean contains(Instant t) {
        return !t.isBefore(start) && t.isBefore(end);
    }

    static ClosedPeriod of(String tenant, YearMonth month, ZoneId zone, Instant closedAt, String actor) {
        return new ClosedPeriod(tenant, month, zone, month.atDay(1).atStartOfDay(zone).toInstant(),
                month.plusMonths(1).atDay(1).atStartOfDay(zone).toInstant(), closedAt, actor);
    }
}
