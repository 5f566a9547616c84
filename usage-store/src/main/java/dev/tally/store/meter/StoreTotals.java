package dev.tally.store.meter;

import dev.tally.store.EventRules;
import dev.tally.store.Totals;
import dev.tally.store.engine.TimeUtil;
import dev.tally.store.read.StoreReader;
import java.math.BigDecimal;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * {@code UsageStore.total}: the count and exact sum of one JSON number over a tenant's, type's
 * and subject's events in a range, answered as a meter query (SUM of the path, one window, read
 * from detail), so there is one JSON-path implementation and one per-part cache.
 *
 * <p>Unlike a meter query it does not refuse a range whose detail retention already deleted:
 * it counts the detail that is left, as it always has.
 *
 * <p>Thread-safe (the {@link MeterService} it wraps is).
 */
public final class StoreTotals implements AutoCloseable {
    private static final Pattern VALUE_PATH = Pattern.compile("\\$(\\.[A-Za-z_][A-Za-z0-9_]*|\\[\"[^\"\\\\]+\"\\])+");
    private static final String NAME = "total";

    private final MeterService meters;

    /** Totals over {@code reader}, caching up to {@code cacheRows} per-part results (0: no cache). */
    public StoreTotals(StoreReader reader, long cacheRows) {
        this.meters = MeterService.over(reader, new MeterRegistry(), cacheRows);
    }

    /** See {@code UsageStore.total}. */
    public Totals total(String tenant, String type, String subject, String valuePath, Instant fromInclusive,
            Instant toExclusive) {
        if (tenant == null || type == null || subject == null || fromInclusive == null || toExclusive == null) {
            throw new IllegalArgumentException("tenant, type, subject, from and to are required");
        }
        if (valuePath == null || !VALUE_PATH.matcher(valuePath).matches()) {
            throw new IllegalArgumentException("valuePath = " + valuePath + " is not a JSON path like $.input_tokens "
                    + "or $.usage.input_tokens");
        }
        if (!fromInclusive.isBefore(toExclusive)) {
            throw new IllegalArgumentException("from = " + fromInclusive + " must be before to = " + toExclusive);
        }
        // Stored times are whole microseconds within TimeUtil's range: bounds are clamped and
        // truncated as the stored column compares them.
        Instant from = TimeUtil.clamp(fromInclusive).truncatedTo(ChronoUnit.MICROS);
        Instant to = TimeUtil.clamp(toExclusive).truncatedTo(ChronoUnit.MICROS);
        if (!from.isBefore(to) || !matchable(tenant, type, subject)) {
            return Totals.ZERO; // no stored event can match
        }
        MeterDefinition meter = new MeterDefinition(NAME, type, Aggregation.SUM, valuePath, Map.of(), Map.of());
        MeterQuery q = new MeterQuery(NAME, tenant, from, to, WindowSize.NONE, ZoneOffset.UTC, List.of(subject),
                false, List.of(), Map.of(), true);
        Partial p = meters.detailTotal(meter, q);
        if (p.events() == 0) {
            return Totals.ZERO;
        }
        BigDecimal sum = p.sum() == null ? BigDecimal.ZERO.setScale(9) : p.sum();
        return new Totals(p.events(), p.values(), sum);
    }

    /** Whether a stored (validated) event could have these keys; a meter query refuses the others. */
    private static boolean matchable(String tenant, String type, String subject) {
        return EventRules.isTenant(tenant) && !type.isEmpty() && type.length() <= MeterDefinition.MAX_EVENT_TYPE
                && type.chars().noneMatch(Character::isISOControl) && !subject.isEmpty()
                && subject.length() <= EventRules.MAX_SUBJECT && subject.indexOf('\0') < 0;
    }

    /** Drops every cached result. */
    public void invalidateAll() {
        meters.invalidateAll();
    }

    /** Stops listening to the store. */
    @Override
    public void close() {
        meters.close();
    }
}
