package dev.tally.store.meter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tally.store.RetentionReason;
import dev.tally.store.SegmentInfo;
import dev.tally.store.UsageEvent;
import dev.tally.store.UsageStore;
import dev.tally.store.testing.MutableClock;
import java.math.BigDecimal;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The per-part cache, retention, exactness limits and the percentile rule. */
class MeterCacheTest {
    private static final Instant NOW = Instant.parse("2026-11-20T12:00:00Z");

    @TempDir
    Path dir;

    private final MutableClock clock = new MutableClock(NOW);
    private UsageStore store;
    private MeterService meters;

    @BeforeEach
    void open() {
        store = MeterStores.open(dir, clock);
        MeterRegistry reg = new MeterRegistry();
        reg.register(new MeterDefinition("tokens", "llm.request", Aggregation.SUM, "$.input_tokens",
                Map.of("model", "$.model"), Map.of()));
        reg.register(new MeterDefinition("median", "llm.request", Aggregation.P50, "$.input_tokens"));
        reg.register(new MeterDefinition("p99", "llm.request", Aggregation.P99, "$.input_tokens"));
        reg.register(new MeterDefinition("avg", "llm.request", Aggregation.AVG, "$.input_tokens"));
        meters = new MeterService(store, reg);
    }

    @AfterEach
    void close() {
        meters.close();
        store.close();
    }

    private static UsageEvent event(String id, Instant t, String tokens) {
        return new UsageEvent("acme", id, "llm.request", "key-1", "test", t, "{\"input_tokens\":" + tokens
                + ",\"model\":\"m\"}");
    }

    private static String rollupPath(UsageStore s, java.time.LocalDate day) {
        return s.segments().stream().filter(x -> x.state() == SegmentInfo.State.SEALED_ROLLUP
                && x.path().contains("day=" + day)).findFirst().orElseThrow().path();
    }

    /** After retention deletes a sealed part, its cached result is dropped and never served again. */
    @Test
    void cache_resultNotServedAfterRetentionDeletedSegment() {
        Instant old = NOW.minus(Duration.ofDays(30));
        store.append(List.of(event("old", old, "1000"), event("new", NOW.minusSeconds(60), "7")));
        store.sealNow();
        MeterQuery q = MeterQuery.builder("tokens", "acme", NOW.minus(Duration.ofDays(31)), NOW.plusSeconds(3600)).build();
        MeterResult first = meters.query(q);
        assertEquals(MeterResult.Source.ROLLUP, first.source());
        assertEquals(new BigDecimal("1007.000000000"), first.rows().get(0).value());
        assertEquals(2, first.partsRead());
        MeterResult cached = meters.query(q);
        assertEquals(2, cached.partsFromCache());
        assertEquals(0, cached.partsRead());
        String oldRollup = rollupPath(store, old.atZone(java.time.ZoneOffset.UTC).toLocalDate());
        assertEquals(1, meters.cachedEntriesFor(oldRollup));

        clock.advance(Duration.ofDays(400 - 29)); // the old day's rollups are past rollupRetention, today's are not
        var report = store.retention(false);
        assertTrue(report.actions().stream().anyMatch(a -> a.reason() == RetentionReason.ROLLUP_EXPIRED
                && a.path().equals(oldRollup)), report.actions().toString());
        assertEquals(0, meters.cachedEntriesFor(oldRollup), "the deleted part's entry is gone");

        MeterResult after = meters.query(q);
        assertEquals(new BigDecimal("7.000000000"), after.rows().get(0).value());
        assertEquals(1, after.partsFromCache(), "only the surviving part answers from the cache");
        assertEquals(0, after.partsRead());
    }

    /** A billing run's second subject is answered from the parts cached for the first, with its own rows only. */
    @Test
    void query_nextSubjectOfSameTenant_answeredFromCacheWithOnlyItsRows() {
        List<UsageEvent> events = new ArrayList<>();
        for (int i = 0; i < 30; i++) {
            events.add(new UsageEvent("acme", "e" + i, "llm.request", "key-" + (i % 3), "test",
                    NOW.minus(Duration.ofHours(1 + i * 5L)), "{\"input_tokens\":" + (i + 1) + ",\"model\":\"m\"}"));
        }
        store.append(events);
        store.sealNow();
        Instant from = NOW.minus(Duration.ofDays(30));
        Instant to = NOW.plusSeconds(3600).truncatedTo(java.time.temporal.ChronoUnit.HOURS);
        // The oracle is arithmetic on the events appended, not another MeterService.
        Map<String, Long> expected = new java.util.TreeMap<>();
        for (int i = 0; i < 30; i++) {
            expected.merge("key-" + (i % 3), (long) (i + 1), Long::sum);
        }
        for (String subject : List.of("key-0", "key-1", "key-2")) {
            MeterQuery q = MeterQuery.builder("tokens", "acme", from, to).subjects(subject).build();
            MeterResult r = meters.query(q);
            assertEquals(1, r.rows().size());
            assertEquals(subject, r.rows().get(0).subject());
            assertEquals(0, BigDecimal.valueOf(expected.get(subject)).compareTo(r.rows().get(0).value()),
                    subject + ": " + r.rows());
            if (!subject.equals("key-0")) {
                assertEquals(0, r.partsRead(), subject + " is computed from the parts cached for key-0");
                assertTrue(r.partsFromCache() > 0);
            }
        }
        MeterQuery two = MeterQuery.builder("tokens", "acme", from, to).subjects("key-2", "key-1").build();
        Map<String, BigDecimal> got = new java.util.TreeMap<>();
        meters.query(two).rows().forEach(row -> got.put(row.subject(), row.value()));
        assertEquals(List.of("key-1", "key-2"), new ArrayList<>(got.keySet()));
        for (String subject : got.keySet()) {
            assertEquals(0, BigDecimal.valueOf(expected.get(subject)).compareTo(got.get(subject)), subject);
        }
    }

    /** A tenant with too many subjects for a small cache is cached per subject, and answers stay the same. */
    @Test
    void query_tooManySubjectsForCache_cachedPerSubjectInstead() {
        List<UsageEvent> events = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            events.add(new UsageEvent("acme", "e" + i, "llm.request", "key-" + i, "test",
                    NOW.minus(Duration.ofHours(2)), "{\"input_tokens\":" + (i + 1) + ",\"model\":\"m\"}"));
        }
        store.append(events);
        store.sealNow();
        Instant from = NOW.minus(Duration.ofDays(1));
        Instant to = NOW.plusSeconds(3600).truncatedTo(java.time.temporal.ChronoUnit.HOURS);
        // 2,560 rows: a part may hold 10 rows for all subjects; this one holds 40.
        try (MeterService small = new MeterService(store, meters.registry(), 2_560)) {
            MeterQuery k0 = MeterQuery.builder("tokens", "acme", from, to).subjects("key-0").build();
            MeterQuery k1 = MeterQuery.builder("tokens", "acme", from, to).subjects("key-1").build();
            assertEquals(new BigDecimal("1.000000000"), small.query(k0).rows().get(0).value());
            MeterResult second = small.query(k1);
            assertEquals(new BigDecimal("2.000000000"), second.rows().get(0).value());
            assertEquals(0, second.partsFromCache(), "key-1 was not cached by key-0's query");
            assertEquals(1, small.query(k1).partsFromCache(), "key-1's own entry serves key-1");
        }
    }

    /** A query that needs detail refuses a range whose detail retention deleted while rollups remain. */
    @Test
    void detailQuery_refusesRangeWhoseDetailRetentionDeleted() {
        Instant old = NOW.minus(Duration.ofDays(30));
        store.append(List.of(event("old", old, "1000"), event("new", NOW.minusSeconds(60), "7")));
        store.sealNow();
        clock.advance(Duration.ofDays(6));
        store.retention(false);
        MeterQuery grouped = MeterQuery.builder("tokens", "acme", old.minus(Duration.ofDays(1)), clock.instant())
                .groupBy("model").build();
        MeterQueryException e = assertThrows(MeterQueryException.class, () -> meters.query(grouped));
        assertTrue(e.getMessage().contains("the detail of [2026-10-21]"), e.getMessage());
        assertTrue(e.getMessage().contains("Start the range at 2026-10-21T13:00:00Z or later"), e.getMessage());
        MeterResult total = meters.query(MeterQuery.builder("tokens", "acme", old.minus(Duration.ofDays(1)).truncatedTo(
                java.time.temporal.ChronoUnit.HOURS), clock.instant().truncatedTo(java.time.temporal.ChronoUnit.HOURS)).build());
        assertEquals(new BigDecimal("1007.000000000"), total.rows().get(0).value(), "rollups still answer the total");
    }

    /** Sums beyond a double's precision stay exact, and a sum leaving DECIMAL(38,9) is an error, not a wrong number. */
    @Test
    void sums_stayExactAndOverflowIsAnError() {
        store.append(List.of(event("a", NOW.minusSeconds(10), "12345678901234567890.123456789"),
                event("b", NOW.minusSeconds(9), "0.000000001")));
        store.sealNow();
        Instant from = NOW.minusSeconds(3600).truncatedTo(java.time.temporal.ChronoUnit.HOURS);
        Instant to = NOW.plusSeconds(3600).truncatedTo(java.time.temporal.ChronoUnit.HOURS);
        MeterResult rollup = meters.query(MeterQuery.builder("tokens", "acme", from, to).build());
        assertEquals(MeterResult.Source.ROLLUP, rollup.source());
        assertEquals(new BigDecimal("12345678901234567890.123456790"), rollup.rows().get(0).value());
        MeterResult detail = meters.query(MeterQuery.builder("tokens", "acme", from, to).groupBy("model").build());
        assertEquals(new BigDecimal("12345678901234567890.123456790"), detail.rows().get(0).value());
        assertEquals(new BigDecimal("6172839450617283945.061728395"),
                meters.query(MeterQuery.builder("avg", "acme", from, to).build()).rows().get(0).value(),
                "AVG is the exact sum over the count, rounded half-even to 9 places");

        List<UsageEvent> huge = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            huge.add(event("h" + i, NOW.minusSeconds(5), "9999999999999999999999999999.5"));
        }
        store.append(huge);
        MeterQueryException e = assertThrows(MeterQueryException.class,
                () -> meters.query(MeterQuery.builder("tokens", "acme", from, to).build()));
        assertTrue(e.getMessage().contains("does not fit DECIMAL(38,9)"), e.getMessage());
    }

    /** Percentiles are observed values by nearest rank: of n sorted values, the one at 1-based rank ceil(q * n). */
    @Test
    void percentiles_areObservedValuesByNearestRank() {
        store.append(List.of(event("a", NOW.minusSeconds(10), "40"), event("b", NOW.minusSeconds(9), "10"),
                event("c", NOW.minusSeconds(8), "30"), event("d", NOW.minusSeconds(7), "20.5")));
        MeterQuery q = MeterQuery.builder("median", "acme", NOW.minusSeconds(60), NOW).build();
        assertEquals(new BigDecimal("20.500000000"), meters.query(q).rows().get(0).value(), "rank ceil(0.5 * 4) = 2");
        MeterQuery q99 = MeterQuery.builder("p99", "acme", NOW.minusSeconds(60), NOW).build();
        assertEquals(new BigDecimal("40.000000000"), meters.query(q99).rows().get(0).value(), "rank ceil(0.99 * 4) = 4");
    }
}
