package dev.tally.store.meter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tally.store.UsageEvent;
import dev.tally.store.UsageStore;
import dev.tally.store.testing.MutableClock;
import java.math.BigDecimal;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Windows at daylight-saving changes, half-hour zones, month and year boundaries, and which source answers. */
class MeterWindowTest {
    @TempDir
    Path dir;

    private final MutableClock clock = new MutableClock(Instant.parse("2026-03-20T00:00:00Z"));
    private UsageStore store;
    private MeterService meters;
    private int seq;

    @BeforeEach
    void open() {
        store = MeterStores.open(dir, clock);
        MeterRegistry reg = new MeterRegistry();
        reg.register(new MeterDefinition("tokens", "llm.request", Aggregation.SUM, "$.input_tokens",
                Map.of("model", "$.model"), Map.of()));
        reg.register(new MeterDefinition("requests", "llm.request", Aggregation.COUNT, null));
        reg.register(new MeterDefinition("tokens_p95", "llm.request", Aggregation.P95, "$.input_tokens"));
        reg.register(new MeterDefinition("nested", "llm.request", Aggregation.SUM, "$.usage.cost"));
        meters = new MeterService(store, reg);
    }

    @AfterEach
    void close() {
        meters.close();
        store.close();
    }

    /** Appends one event per {@code step} in [from, to) with the clock set just after, tokens 1 each. */
    private void hourly(Instant from, Instant to, Duration step) {
        clock.set(to);
        List<UsageEvent> batch = new ArrayList<>();
        for (Instant t = from; t.isBefore(to); t = t.plus(step)) {
            batch.add(new UsageEvent("acme", "e" + seq++, "llm.request", "key-1", "test", t,
                    "{\"input_tokens\":1,\"model\":\"m\",\"usage\":{\"cost\":0.5}}"));
        }
        assertEquals(batch.size(), store.append(batch).accepted());
    }

    private MeterResult query(String meter, Instant from, Instant to, WindowSize size, String zone) {
        return meters.query(MeterQuery.builder(meter, "acme", from, to).window(size, ZoneId.of(zone)).build());
    }

    private static Duration length(MeterRow r) {
        return Duration.between(r.windowStart(), r.windowEnd());
    }

    /** A Berlin DAY is 23 hours on the spring-forward day and 25 on the fall-back day, and counts every hour once. */
    @Test
    void dayWindows_berlinSpringForwardIs23HoursAndFallBackIs25() {
        hourly(Instant.parse("2026-03-27T23:00:00Z"), Instant.parse("2026-03-30T22:00:00Z"), Duration.ofHours(1));
        store.sealNow();
        hourly(Instant.parse("2026-10-24T22:00:00Z"), Instant.parse("2026-10-26T23:00:00Z"), Duration.ofHours(1));

        List<MeterRow> spring = query("requests", Instant.parse("2026-03-27T23:00:00Z"),
                Instant.parse("2026-03-30T22:00:00Z"), WindowSize.DAY, "Europe/Berlin").rows();
        assertEquals(List.of(Duration.ofHours(24), Duration.ofHours(23), Duration.ofHours(24)),
                spring.stream().map(MeterWindowTest::length).toList());
        assertEquals(OffsetDateTime.parse("2026-03-29T00:00+01:00"), spring.get(1).windowStart());
        assertEquals(OffsetDateTime.parse("2026-03-30T00:00+02:00"), spring.get(1).windowEnd());
        assertEquals(List.of(24L, 23L, 24L), spring.stream().map(r -> r.value().longValueExact()).toList());

        List<MeterRow> fall = query("requests", Instant.parse("2026-10-24T22:00:00Z"),
                Instant.parse("2026-10-26T23:00:00Z"), WindowSize.DAY, "Europe/Berlin").rows();
        assertEquals(List.of(Duration.ofHours(25), Duration.ofHours(24)), fall.stream().map(MeterWindowTest::length).toList());
        assertEquals(OffsetDateTime.parse("2026-10-25T00:00+02:00"), fall.get(0).windowStart());
        assertEquals(OffsetDateTime.parse("2026-10-26T00:00+01:00"), fall.get(0).windowEnd());
        assertEquals(25, fall.get(0).value().longValueExact());
    }

    /** New York's repeated 01:00 hour on the fall-back day is two one-hour windows told apart by their offsets. */
    @Test
    void hourWindows_newYorkFallBackRepeatsOneOClockAsTwoWindows() {
        clock.set(Instant.parse("2026-11-01T12:00:00Z"));
        hourly(Instant.parse("2026-11-01T04:00:00Z"), Instant.parse("2026-11-01T08:00:00Z"), Duration.ofMinutes(20));
        List<MeterRow> rows = query("requests", Instant.parse("2026-11-01T04:00:00Z"),
                Instant.parse("2026-11-01T08:00:00Z"), WindowSize.HOUR, "America/New_York").rows();
        assertEquals(List.of("2026-11-01T00:00-04:00", "2026-11-01T01:00-04:00", "2026-11-01T01:00-05:00",
                "2026-11-01T02:00-05:00"), rows.stream().map(r -> r.windowStart().toString()).toList());
        assertTrue(rows.stream().allMatch(r -> length(r).equals(Duration.ofHours(1)) && r.value().intValue() == 3));
        assertEquals(MeterResult.Source.ROLLUP, query("requests", Instant.parse("2026-11-01T04:00:00Z"),
                Instant.parse("2026-11-01T08:00:00Z"), WindowSize.HOUR, "America/New_York").source());
    }

    /** Asia/Kolkata days start at 18:30 UTC, so they are answered from detail, with the reason in the plan. */
    @Test
    void dayWindows_kolkataHalfHourOffsetUsesDetail() {
        hourly(Instant.parse("2026-03-10T00:00:00Z"), Instant.parse("2026-03-12T00:00:00Z"), Duration.ofMinutes(30));
        store.sealNow();
        MeterResult r = query("tokens", Instant.parse("2026-03-10T00:00:00Z"), Instant.parse("2026-03-12T00:00:00Z"),
                WindowSize.DAY, "Asia/Kolkata");
        assertEquals(MeterResult.Source.DETAIL, r.source());
        assertTrue(r.plan().contains("Asia/Kolkata is at UTC+05:30"), r.plan());
        assertEquals(List.of("2026-03-10T05:30+05:30", "2026-03-11T00:00+05:30", "2026-03-12T00:00+05:30"),
                r.rows().stream().map(x -> x.windowStart().toString()).toList());
        // 00:00Z..18:30Z is 37 half hours, then 48, then 11.
        assertEquals(List.of(37L, 48L, 11L), r.rows().stream().map(x -> x.value().longValueExact()).toList());
    }

    /** Lord Howe's 30-minute changes make a 90-minute hour when clocks fall back and a 30-minute one when they spring forward. */
    @Test
    void hourWindows_lordHoweHalfHourChangesMake90And30MinuteWindows() {
        ZoneId lh = ZoneId.of("Australia/Lord_Howe");
        Windows fallBack = Windows.plan(WindowSize.HOUR, lh, Instant.parse("2026-04-04T13:00:00Z"),
                Instant.parse("2026-04-04T17:30:00Z"));
        List<String> starts = new ArrayList<>();
        List<Duration> lengths = new ArrayList<>();
        for (int i = 0; i < fallBack.count(); i++) {
            starts.add(fallBack.startOf(i).toString());
            lengths.add(Duration.between(fallBack.startOf(i), fallBack.endOf(i)));
        }
        assertEquals(List.of("2026-04-05T00:00+11:00", "2026-04-05T01:00+11:00", "2026-04-05T02:00+10:30",
                "2026-04-05T03:00+10:30"), starts);
        assertEquals(List.of(Duration.ofMinutes(60), Duration.ofMinutes(90), Duration.ofMinutes(60),
                Duration.ofMinutes(60)), lengths);

        Windows spring = Windows.plan(WindowSize.HOUR, lh, Instant.parse("2025-10-04T14:30:00Z"),
                Instant.parse("2025-10-04T17:00:00Z"));
        List<String> s2 = new ArrayList<>();
        List<Duration> l2 = new ArrayList<>();
        for (int i = 0; i < spring.count(); i++) {
            s2.add(spring.startOf(i).toString());
            l2.add(Duration.between(spring.startOf(i), spring.endOf(i)));
        }
        assertEquals(List.of("2025-10-05T01:00+10:30", "2025-10-05T02:30+11:00", "2025-10-05T03:00+11:00"), s2);
        assertEquals(List.of(Duration.ofMinutes(60), Duration.ofMinutes(30), Duration.ofMinutes(60)), l2);

        clock.set(Instant.parse("2026-04-05T00:00:00Z"));
        hourly(Instant.parse("2026-04-04T13:00:00Z"), Instant.parse("2026-04-04T17:30:00Z"), Duration.ofMinutes(10));
        MeterResult r = meters.query(MeterQuery.builder("requests", "acme", Instant.parse("2026-04-04T13:00:00Z"),
                Instant.parse("2026-04-04T17:30:00Z")).window(WindowSize.HOUR, lh).build());
        assertEquals(MeterResult.Source.DETAIL, r.source(), r.plan());
        assertEquals(List.of(6L, 9L, 6L, 6L), r.rows().stream().map(x -> x.value().longValueExact()).toList());
    }

    /** MONTH windows cross the year boundary at local midnight, clipped to the query range. */
    @Test
    void monthWindows_crossTheYearBoundaryAtLocalMidnight() {
        clock.set(Instant.parse("2026-01-15T00:00:00Z"));
        hourly(Instant.parse("2025-12-15T00:00:00Z"), Instant.parse("2026-01-15T00:00:00Z"), Duration.ofHours(1));
        store.sealNow();
        MeterResult utc = query("tokens", Instant.parse("2025-12-15T00:00:00Z"), Instant.parse("2026-01-15T00:00:00Z"),
                WindowSize.MONTH, "UTC");
        assertEquals(List.of("2025-12-15T00:00Z|2026-01-01T00:00Z|408.000000000",
                "2026-01-01T00:00Z|2026-01-15T00:00Z|336.000000000"), render(utc));
        MeterResult berlin = query("tokens", Instant.parse("2025-12-15T00:00:00Z"),
                Instant.parse("2026-01-15T00:00:00Z"), WindowSize.MONTH, "Europe/Berlin");
        assertEquals(List.of("2025-12-15T01:00+01:00|2026-01-01T00:00+01:00|407.000000000",
                "2026-01-01T00:00+01:00|2026-01-15T01:00+01:00|337.000000000"), render(berlin));
        assertEquals(MeterResult.Source.ROLLUP, berlin.source(), berlin.plan());
    }

    private static List<String> render(MeterResult r) {
        return r.rows().stream().map(x -> x.windowStart() + "|" + x.windowEnd() + "|" + x.value().toPlainString()).toList();
    }

    /** {@code from} is inclusive and {@code to} exclusive on both sources, to the microsecond. */
    @Test
    void range_fromInclusiveToExclusiveOnRollupAndDetail() {
        Instant from = Instant.parse("2026-03-10T10:00:00Z");
        Instant to = Instant.parse("2026-03-10T12:00:00Z");
        clock.set(Instant.parse("2026-03-11T00:00:00Z"));
        List<UsageEvent> edge = List.of(
                new UsageEvent("acme", "at-from", "llm.request", "k", "t", from, "{\"input_tokens\":1}"),
                new UsageEvent("acme", "before-to", "llm.request", "k", "t", to.minusNanos(1_000), "{\"input_tokens\":10}"),
                new UsageEvent("acme", "at-to", "llm.request", "k", "t", to, "{\"input_tokens\":100}"),
                new UsageEvent("acme", "before-from", "llm.request", "k", "t", from.minusNanos(1_000), "{\"input_tokens\":1000}"));
        store.append(edge);
        store.sealNow();
        store.append(List.of(new UsageEvent("acme", "active", "llm.request", "k", "t", to.minusSeconds(1),
                "{\"input_tokens\":10000}")));
        MeterResult rollup = query("tokens", from, to, WindowSize.NONE, "UTC");
        assertEquals(MeterResult.Source.ROLLUP, rollup.source());
        assertEquals(new BigDecimal("10011.000000000"), rollup.rows().get(0).value());
        MeterResult detail = meters.query(MeterQuery.builder("tokens", "acme", from, to).groupBy("model").build());
        assertEquals(MeterResult.Source.DETAIL, detail.source());
        assertEquals(new BigDecimal("10011.000000000"), detail.rows().get(0).value());
        assertEquals(3, detail.rows().get(0).events());
    }

    /** Rollups answer only where they are exact; the plan names the reason whenever detail answers. */
    @Test
    void source_rollupWhenExactDetailOtherwiseWithReason() {
        hourly(Instant.parse("2026-03-10T00:00:00Z"), Instant.parse("2026-03-12T00:00:00Z"), Duration.ofMinutes(30));
        store.sealNow();
        Instant from = Instant.parse("2026-03-10T00:00:00Z");
        Instant to = Instant.parse("2026-03-12T00:00:00Z");
        assertEquals(MeterResult.Source.ROLLUP, query("tokens", from, to, WindowSize.DAY, "UTC").source());
        assertEquals(MeterResult.Source.ROLLUP, query("tokens", from, to, WindowSize.HOUR, "Europe/Berlin").source());
        assertPlan("MINUTE windows", query("tokens", from, to, WindowSize.MINUTE, "UTC"));
        assertPlan("P95 needs every single value", query("tokens_p95", from, to, WindowSize.DAY, "UTC"));
        assertPlan("nested", query("nested", from, to, WindowSize.DAY, "UTC"));
        assertPlan("not on a whole UTC hour", query("tokens", from.plusSeconds(60), to, WindowSize.NONE, "UTC"));
        assertPlan("grouped by [model]", meters.query(MeterQuery.builder("tokens", "acme", from, to)
                .window(WindowSize.DAY, ZoneOffset.UTC).groupBy("model").build()));
        assertPlan("filtered", meters.query(MeterQuery.builder("tokens", "acme", from, to)
                .window(WindowSize.DAY, ZoneOffset.UTC).filter("model", "m").build()));
        assertEquals(new BigDecimal("96.000000000"), query("tokens", from, to, WindowSize.NONE, "UTC").rows().get(0).value());
        assertEquals(new BigDecimal("48.000000000"), query("nested", from, to, WindowSize.NONE, "UTC").rows().get(0).value());
    }

    private static void assertPlan(String reason, MeterResult r) {
        assertEquals(MeterResult.Source.DETAIL, r.source());
        assertTrue(r.plan().contains(reason), r.plan());
    }
}
