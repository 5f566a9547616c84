package dev.tally.bench.suite;

import dev.tally.store.UsageStore;
import dev.tally.store.meter.Aggregation;
import dev.tally.store.meter.MeterDefinition;
import dev.tally.store.meter.MeterQuery;
import dev.tally.store.meter.MeterRegistry;
import dev.tally.store.meter.MeterResult;
import dev.tally.store.meter.MeterRow;
import dev.tally.store.meter.MeterService;
import dev.tally.store.meter.WindowSize;
import java.math.BigDecimal;
import java.time.ZoneOffset;
import java.util.EnumMap;
import java.util.Map;

/**
 * The billing queries through the store's meters API, with the per-part result cache off, so every
 * run computes its answer from the files (as PostgreSQL does from its tables). The meter service
 * picks hourly rollups where they are exact and detail otherwise; the source of each query's last
 * answer is recorded for the report.
 *
 * <p>Not thread-safe: one benchmark thread.
 */
final class StoreQueries implements Billing.Side, AutoCloseable {
    private final MeterService meters;
    private final boolean detailOnly;
    private final Map<Billing.Query, String> sources = new EnumMap<>(Billing.Query.class);

    /**
     * @param detailOnly answer from detail even where rollups are exact (to compare the two);
     *                   then only the queries rollups could answer are run
     */
    StoreQueries(UsageStore store, boolean detailOnly) {
        this.detailOnly = detailOnly;
        MeterRegistry registry = new MeterRegistry();
        registry.register(new MeterDefinition("input_tokens", "llm.request", Aggregation.SUM, "$.input_tokens",
                Map.of("model", "$.model"), Map.of()));
        registry.register(new MeterDefinition("users", "llm.request", Aggregation.UNIQUE_COUNT, "$.user",
                Map.of(), Map.of()));
        registry.register(new MeterDefinition("latency_p95", "llm.request", Aggregation.P95, "$.latency_ms",
                Map.of("model", "$.model"), Map.of()));
        this.meters = new MeterService(store, registry, 0);
    }

    @Override
    public String unsupported(Billing.Query q) {
        return detailOnly && q != Billing.Query.MONTHLY_TOTAL ? "always answered from detail" : null;
    }

    /** Where the last answer to {@code q} came from: rollup or detail. */
    String source(Billing.Query q) {
        return sources.get(q);
    }

    @Override
    public Billing.Answer run(Billing.Query q, Billing.Params p) {
        MeterQuery query = switch (q) {
            case MONTHLY_TOTAL -> MeterQuery.builder("input_tokens", p.tenant(), p.from(), p.to())
                    .subjects(p.subject()).detailOnly(detailOnly).build();
            case DAILY_BY_MODEL -> MeterQuery.builder("input_tokens", p.tenant(), p.from(), p.to())
                    .window(WindowSize.DAY, ZoneOffset.UTC).perSubject(false).groupBy("model").build();
            case UNIQUE_USERS -> MeterQuery.builder("users", p.tenant(), p.from(), p.to()).build();
            case P95_LATENCY -> MeterQuery.builder("latency_p95", p.tenant(), p.from(), p.to())
                    .perSubject(false).groupBy("model").build();
        };
        MeterResult result = meters.query(query);
        sources.put(q, result.source().name().toLowerCase(java.util.Locale.ROOT));
        long events = 0;
        BigDecimal value = BigDecimal.ZERO;
        for (MeterRow row : result.rows()) {
            events += row.events();
            if (q != Billing.Query.P95_LATENCY && row.value() != null) {
                value = value.add(row.value());
            }
        }
        return new Billing.Answer(result.rows().size(), events, value);
    }

    @Override
    public void close() {
        meters.close();
    }
}
