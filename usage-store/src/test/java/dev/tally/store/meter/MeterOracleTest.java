package dev.tally.store.meter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tally.store.SegmentInfo;
import dev.tally.store.UsageEvent;
import dev.tally.store.UsageStore;
import dev.tally.store.testing.MutableClock;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.duckdb.DuckDBAppender;
import org.duckdb.DuckDBConnection;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every aggregation, window size, time zone and grouping against an oracle: the same events,
 * generated in Java with their values known as BigDecimal, loaded into a separate plain DuckDB
 * table with window starts computed per event by java.time, aggregated there with plain SQL.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class MeterOracleTest {
    private static final Instant START = Instant.parse("2025-12-20T00:00:00Z");
    private static final Instant END = Instant.parse("2026-04-08T00:00:00Z");
    private static final List<ZoneId> ZONES = List.of(ZoneOffset.UTC, ZoneId.of("Europe/Berlin"),
            ZoneId.of("America/New_York"), ZoneId.of("Asia/Kolkata"), ZoneId.of("Australia/Lord_Howe"));

    private final MutableClock clock = new MutableClock(START);
    private UsageStore store;
    private MeterService meters;
    /** The same meters with the per-part cache off (as the benchmarks query). */
    private MeterService uncached;
    private Connection oracle;
    private final List<Gen> events = new ArrayList<>();

    /** One generated event with its values as the generator knows them. */
    record Gen(String tenant, String id, String subject, Instant time, String model, String region, BigDecimal tokens,
            String tokensText, String user, BigDecimal cost) {
        /** The value as UNIQUE_COUNT compares it: a number's plain decimal without trailing zeros, a string's content. */
        String tokensUnique() {
            if (tokens != null) {
                return tokens.signum() == 0 ? "0" : tokens.stripTrailingZeros().toPlainString();
            }
            return tokensText == null ? null : tokensText.substring(1, tokensText.length() - 1);
        }
    }

    @BeforeAll
    void load(@TempDir Path dir) throws Exception {
        MeterStores.ManualExecutor seals = new MeterStores.ManualExecutor();
        store = MeterStores.open(dir, clock, seals, 1L << 20);
        Random r = new Random(20260329);
        List<Instant> dense = List.of(Instant.parse("2026-03-08T05:00:00Z"), Instant.parse("2026-03-29T00:00:00Z"),
                Instant.parse("2026-04-04T12:00:00Z"), Instant.parse("2025-12-31T20:00:00Z"));
        int n = 0;
        // Four chunks: three sealed, the last split into a pending segment (size rollover, seal never run) and the active one.
        Instant[] cuts = {START, Instant.parse("2026-01-20T00:00:00Z"), Instant.parse("2026-02-22T00:00:00Z"),
                Instant.parse("2026-03-25T00:00:00Z"), END};
        for (int chunk = 0; chunk < 4; chunk++) {
            Instant a = cuts[chunk];
            Instant b = cuts[chunk + 1];
            clock.set(b);
            List<UsageEvent> batch = new ArrayList<>();
            int count = chunk == 3 ? 1400 : 500;
            for (int i = 0; i < count; i++) {
                Instant t;
                if (i % 3 == 0) {
                    Instant d = dense.get(r.nextInt(dense.size()));
                    t = d.plusSeconds(r.nextInt(4 * 3600));
                    if (t.isBefore(a) || !t.isBefore(b)) {
                        t = a.plusSeconds((long) (r.nextDouble() * Duration.between(a, b).getSeconds()));
                    }
                } else {
                    t = a.plusSeconds((long) (r.nextDouble() * Duration.between(a, b).getSeconds()));
                }
                t = t.plusNanos(1000L * r.nextInt(1_000_000));
                if (!t.isBefore(b)) {
                    t = b.minusSeconds(1);
                }
                String tenant = r.nextInt(10) == 0 ? "other" : "acme";
                batch.add(event(r, tenant, "e" + (n++), t, chunk == 3 && i < 700));
                if (batch.size() == 100) {
                    appendAll(batch);
                }
            }
            appendAll(batch);
            if (chunk < 3) {
                store.sealNow();
            }
        }
        List<SegmentInfo.State> states = store.segments().stream().map(SegmentInfo::state).distinct().toList();
        assertTrue(states.containsAll(List.of(SegmentInfo.State.ACTIVE, SegmentInfo.State.PENDING,
                SegmentInfo.State.SEALED_DETAIL, SegmentInfo.State.SEALED_ROLLUP)), "every tier holds rows: " + states);

        MeterRegistry reg = new MeterRegistry();
        for (Aggregation agg : Aggregation.values()) {
            reg.register(new MeterDefinition("tokens_" + agg.name().toLowerCase(), "llm.request", agg, "$.input_tokens",
                    Map.of("model", "$.model", "region", "$[\"region\"]"), Map.of()));
        }
        reg.register(new MeterDefinition("requests", "llm.request", Aggregation.COUNT, null,
                Map.of("model", "$.model"), Map.of()));
        reg.register(new MeterDefinition("cost_eu_us", "llm.request", Aggregation.SUM, "$.usage.cost",
                Map.of("model", "$.model"), Map.of("$.region", List.of("eu", "us"))));
        reg.register(new MeterDefinition("users", "llm.request", Aggregation.UNIQUE_COUNT, "$.user",
                Map.of("model", "$.model"), Map.of()));
        meters = new MeterService(store, reg);
        uncached = new MeterService(store, reg, 0);

        oracle = DriverManager.getConnection("jdbc:duckdb:");
        try (Statement s = oracle.createStatement()) {
            s.execute("CREATE TABLE ev (tenant VARCHAR, id VARCHAR, subject VARCHAR, t BIGINT, model VARCHAR, "
                    + "region VARCHAR, tokens DECIMAL(38,9), user_text VARCHAR, cost DECIMAL(38,9), tokens_text VARCHAR)");
            s.execute("CREATE TABLE wmap (id VARCHAR, size VARCHAR, zone VARCHAR, ws BIGINT)");
        }
        try (DuckDBAppender ap = ((DuckDBConnection) oracle).createAppender(DuckDBConnection.DEFAULT_SCHEMA, "ev")) {
            for (Gen g : events) {
                ap.beginRow();
                ap.append(g.tenant());
                ap.append(g.id());
                ap.append(g.subject());
                ap.append(micros(g.time()));
                appendOrNull(ap, g.model());
                appendOrNull(ap, g.region());
                if (g.tokens() == null) {
                    ap.appendNull();
                } else {
                    ap.append(g.tokens().setScale(9));
                }
                appendOrNull(ap, g.user());
                if (g.cost() == null) {
                    ap.appendNull();
                } else {
                    ap.append(g.cost().setScale(9));
                }
                appendOrNull(ap, g.tokensUnique());
                ap.endRow();
            }
        }
        try (DuckDBAppender ap = ((DuckDBConnection) oracle).createAppender(DuckDBConnection.DEFAULT_SCHEMA, "wmap")) {
            for (ZoneId z : ZONES) {
                for (WindowSize size : List.of(WindowSize.MINUTE, WindowSize.HOUR, WindowSize.DAY, WindowSize.MONTH)) {
                    for (Gen g : events) {
                        ap.beginRow();
                        ap.append(g.id());
                        ap.append(size.name());
                        ap.append(z.getId());
                        ap.append(micros(naturalStart(size, z, g.time())));
                        ap.endRow();
                    }
                }
            }
        }
    }

    private void appendAll(List<UsageEvent> batch) {
        var result = store.append(batch);
        assertEquals(List.of(), result.rejected(), "every generated event is valid");
        assertEquals(batch.size(), result.accepted());
        batch.clear();
    }

    private static void appendOrNull(DuckDBAppender ap, String s) throws Exception {
        if (s == null) {
            ap.appendNull();
        } else {
            ap.append(s);
        }
    }

    @AfterAll
    void close() throws Exception {
        meters.close();
        uncached.close();
        store.close();
        oracle.close();
    }

    private UsageEvent event(Random r, String tenant, String id, Instant t, boolean fat) {
        String subject = "key-" + r.nextInt(7);
        String model = r.nextInt(8) == 0 ? null : "m-" + r.nextInt(3);
        String region = List.of("eu", "us", "ap").get(r.nextInt(3));
        BigDecimal tokens;
        String tokensJson;
        int kind = r.nextInt(20);
        if (kind == 0) {
            tokens = null;
            tokensJson = null; // missing
        } else if (kind == 1) {
            tokens = null;
            tokensJson = "\"12\""; // a string is not a number
        } else if (kind == 2) {
            tokens = new BigDecimal(r.nextInt(1_000_000_000) + "" + r.nextInt(1_000_000_000) + "."
                    + String.format("%09d", r.nextInt(1_000_000_000)));
            tokensJson = tokens.toPlainString(); // 18-19 significant digits and 9 decimals: beyond a double
        } else if (kind == 3) {
            tokens = new BigDecimal(-r.nextInt(1000)).movePointLeft(3);
            tokensJson = tokens.toPlainString();
        } else {
            tokens = BigDecimal.valueOf(1 + r.nextInt(5000));
            tokensJson = tokens.toPlainString() + (kind == 4 ? ".0" : "");
        }
        String user;
        String userJson;
        int u = r.nextInt(12);
        if (u == 0) {
            user = null;
            userJson = null;
        } else if (u == 1) {
            user = "7";
            userJson = r.nextBoolean() ? "7" : "7.00";
        } else {
            user = "u-" + r.nextInt(25);
            userJson = "\"" + user + "\"";
        }
        BigDecimal cost = new BigDecimal(r.nextInt(100_000_000)).movePointLeft(9);
        StringBuilder data = new StringBuilder("{\"region\":\"").append(region).append('"');
        if (model != null) {
            data.append(",\"model\":\"").append(model).append('"');
        }
        if (tokensJson != null) {
            data.append(",\"input_tokens\":").append(tokensJson);
        }
        if (userJson != null) {
            data.append(",\"user\":").append(userJson);
        }
        data.append(",\"usage\":{\"cost\":").append(cost.toPlainString()).append('}');
        if (fat) {
            data.append(",\"pad\":\"").append("x".repeat(1200)).append('"');
        }
        data.append('}');
        Instant stored = t.truncatedTo(ChronoUnit.MICROS);
        events.add(new Gen(tenant, id, subject, stored, model, region, tokens, tokensJson, user, cost));
        return new UsageEvent(tenant, id, "llm.request", subject, "oracle", t, data.toString());
    }

    private static long micros(Instant t) {
        return t.getEpochSecond() * 1_000_000L + t.getNano() / 1_000;
    }

    /** The window start of an event, straight from java.time, per the documented rule. */
    private static Instant naturalStart(WindowSize size, ZoneId zone, Instant t) {
        ZonedDateTime z = t.atZone(zone);
        return switch (size) {
            case MINUTE -> z.truncatedTo(ChronoUnit.MINUTES).toInstant();
            case HOUR -> z.truncatedTo(ChronoUnit.HOURS).toInstant();
            case DAY -> z.toLocalDate().atStartOfDay(zone).toInstant();
            case MONTH -> z.toLocalDate().withDayOfMonth(1).atStartOfDay(zone).toInstant();
            case NONE -> throw new IllegalArgumentException();
        };
    }

    private static final Map<String, Instant> ENDS = new java.util.concurrent.ConcurrentHashMap<>();

    /**
     * Where the window after {@code start} begins, found by walking forward (a minute at a time for
     * minute and hour windows, which can be 30 minutes long; half an hour at a time for days and
     * months, which are at least 23 hours long) until the natural start changes.
     */
    private static Instant naturalEnd(WindowSize size, ZoneId zone, Instant start) {
        return ENDS.computeIfAbsent(size + "|" + zone.getId() + "|" + start, k -> {
            long step = size == WindowSize.DAY || size == WindowSize.MONTH ? 1800 : 60;
            Instant t = start.plusSeconds(step);
            while (!naturalStart(size, zone, t).isAfter(start)) {
                t = t.plusSeconds(step);
            }
            return naturalStart(size, zone, t);
        });
    }

    /**
     * Whether every window boundary inside the range falls on a whole UTC hour (so hourly rollups
     * are exact), found by walking the windows with java.time. Where the zone's offset is a whole
     * number of hours at every transition in range this always holds; it can also hold when a
     * half-hour offset only starts inside the last window.
     */
    private static boolean boundariesOnUtcHours(Range range, ZoneId zone) {
        if (range.from().getEpochSecond() % 3600 != 0 || range.to().getEpochSecond() % 3600 != 0) {
            return false;
        }
        if (range.size() == WindowSize.NONE) {
            return true;
        }
        Instant b = naturalEnd(range.size(), zone, naturalStart(range.size(), zone, range.from()));
        for (; b.isBefore(range.to()); b = naturalEnd(range.size(), zone, b)) {
            if (b.getEpochSecond() % 3600 != 0) {
                return false;
            }
        }
        return true;
    }

    /** Meters run against every range and zone; the others share their code paths and run a reduced set. */
    private static final java.util.Set<String> CORE = java.util.Set.of("tokens_sum", "tokens_avg",
            "tokens_unique_count", "tokens_latest", "tokens_p95", "requests", "cost_eu_us");

    private static List<ZoneId> reduced(Range range, List<ZoneId> zones) {
        return switch (range.size()) {
            case DAY -> List.of(ZoneOffset.UTC, ZoneId.of("Australia/Lord_Howe"));
            case MONTH -> List.of(ZoneId.of("Europe/Berlin"));
            case HOUR -> zones.contains(ZoneId.of("Australia/Lord_Howe")) ? List.of(ZoneId.of("Australia/Lord_Howe"))
                    : List.of();
            case NONE -> zones;
            case MINUTE -> List.of();
        };
    }

    record Range(WindowSize size, Instant from, Instant to) {
    }

    /** Every meter, window, zone and grouping equals the oracle, first run and cached rerun alike. */
    @Test
    void everyAggregationWindowZoneAndGrouping_matchesPlainDuckDbOverRawEvents() throws Exception {
        ZoneId utc = ZoneOffset.UTC;
        ZoneId berlin = ZoneId.of("Europe/Berlin");
        ZoneId newYork = ZoneId.of("America/New_York");
        ZoneId kolkata = ZoneId.of("Asia/Kolkata");
        ZoneId lordHowe = ZoneId.of("Australia/Lord_Howe");
        // Each range with the zones where it tests something: a DST change inside it, a half-hour offset, or none.
        Map<Range, List<ZoneId>> ranges = new LinkedHashMap<>();
        ranges.put(new Range(WindowSize.MINUTE, Instant.parse("2026-03-08T05:00:00Z"),
                Instant.parse("2026-03-08T09:00:00Z")), List.of(newYork, kolkata));
        ranges.put(new Range(WindowSize.HOUR, Instant.parse("2026-03-28T18:00:00Z"),
                Instant.parse("2026-03-29T04:00:00Z")), List.of(utc, berlin, kolkata));
        ranges.put(new Range(WindowSize.HOUR, Instant.parse("2026-04-04T10:00:00Z"),
                Instant.parse("2026-04-04T17:00:00Z")), List.of(lordHowe, newYork));
        ranges.put(new Range(WindowSize.DAY, Instant.parse("2026-03-01T00:00:00Z"),
                Instant.parse("2026-04-08T00:00:00Z")), ZONES);
        ranges.put(new Range(WindowSize.MONTH, Instant.parse("2025-12-01T00:00:00Z"), END), ZONES);
        ranges.put(new Range(WindowSize.NONE, Instant.parse("2025-12-31T19:00:00Z"),
                Instant.parse("2026-04-04T15:30:00Z")), List.of(utc));
        // One window over whole hours: rollup parts wholly inside it are read without the hour
        // column, those cut by it with the range test.
        ranges.put(new Range(WindowSize.NONE, Instant.parse("2025-12-01T00:00:00Z"), END), List.of(utc));
        ranges.put(new Range(WindowSize.NONE, Instant.parse("2026-01-10T07:00:00Z"),
                Instant.parse("2026-03-15T13:00:00Z")), List.of(utc));
        int compared = 0;
        int rollups = 0;
        for (MeterDefinition m : meters.registry().all()) {
            boolean core = CORE.contains(m.name());
            for (Range range : ranges.keySet()) {
                for (ZoneId zone : core ? ranges.get(range) : reduced(range, ranges.get(range))) {
                    for (int variant = 0; variant < 3; variant++) {
                        MeterQuery.Builder b = MeterQuery.builder(m.name(), "acme", range.from(), range.to())
                                .window(range.size(), zone);
                        if (variant == 1) {
                            b.groupBy(m.groupBy().keySet().stream().sorted().toArray(String[]::new));
                        } else if (variant == 2) {
                            b.perSubject(false).groupBy("model").filter("model", "m-1", "m-2").subjects("key-1", "key-2",
                                    "key-5");
                        }
                        MeterQuery q = b.build();
                        List<String> expected = oracle(m, q);
                        MeterResult got = meters.query(q);
                        assertEquals(expected, render(got), q.toString());
                        if (core && m.aggregation().decomposable()) {
                            // Without the cache every part is read in the answer's one statement, not per file
                            // (the other aggregations read every value, with or without the cache).
                            assertEquals(expected, render(uncached.query(q)), "without the cache: " + q);
                            MeterResult again = meters.query(q);
                            assertEquals(render(got), render(again), "cached rerun of " + q);
                            assertEquals(again.partsRead(), 0, "every sealed part from the cache: " + q);
                        }
                        boolean rollupExpected = m.aggregation().decomposable() && variant == 0
                                && !"$.usage.cost".equals(m.valueProperty()) && m.filters().isEmpty()
                                && range.size() != WindowSize.MINUTE
                                && !range.to().equals(Instant.parse("2026-04-04T15:30:00Z"))
                                && boundariesOnUtcHours(range, zone);
                        assertEquals(rollupExpected ? MeterResult.Source.ROLLUP : MeterResult.Source.DETAIL,
                                got.source(), q + ": " + got.plan());
                        if (got.source() == MeterResult.Source.ROLLUP) {
                            rollups++;
                        }
                        if (got.source() == MeterResult.Source.ROLLUP && core) {
                            MeterQuery audit = MeterQuery.builder(m.name(), "acme", q.from(), q.to())
                                    .window(q.window(), q.zone()).detailOnly(true).build();
                            MeterResult detail = meters.query(audit);
                            assertEquals(MeterResult.Source.DETAIL, detail.source());
                            assertEquals(render(got), render(detail), "rollups and detail agree: " + q);
                        }
                        compared += got.rows().size();
                    }
                }
            }
        }
        assertTrue(compared > 5_000, "compared " + compared + " rows");
        assertTrue(rollups > 20, "rollup path used " + rollups + " times");
    }

    private static List<String> render(MeterResult r) {
        List<String> out = new ArrayList<>();
        for (MeterRow row : r.rows()) {
            out.add(row.windowStart() + "|" + row.windowEnd() + "|" + row.subject() + "|" + row.groups() + "|"
                    + (row.value() == null ? null : row.value().stripTrailingZeros().toPlainString()) + "|" + row.events());
        }
        return out;
    }

    /** The expected rows of {@code q}, from plain SQL over the oracle table. */
    private List<String> oracle(MeterDefinition m, MeterQuery q) throws Exception {
        String ws = q.window() == WindowSize.NONE ? "NULL::BIGINT" : "w.ws";
        String join = q.window() == WindowSize.NONE ? "" : " JOIN wmap w ON w.id = ev.id AND w.size = '"
                + q.window() + "' AND w.zone = '" + q.zone().getId() + "'";
        String col = switch (m.valueProperty() == null ? "" : m.valueProperty()) {
            case "$.input_tokens" -> "tokens";
            case "$.usage.cost" -> "cost";
            case "$.user" -> "user_text";
            default -> "NULL";
        };
        String agg = switch (m.aggregation()) {
            case SUM, AVG -> "sum(" + col + ")";
            case COUNT -> m.valueProperty() == null ? "count(*)" : "count(" + col + ")";
            case MIN -> "min(" + col + ")";
            case MAX -> "max(" + col + ")";
            case UNIQUE_COUNT -> "count(DISTINCT " + (col.equals("tokens") ? "tokens_text" : col) + ")";
            // LATEST and percentiles share no expression with production: the oracle fetches the
            // raw values (with time and id) and picks in Java (see pickLatest, nearestRank).
            case LATEST -> "list(concat_ws(chr(31), t, ev.id, CAST(" + col + " AS VARCHAR))) FILTER (WHERE "
                    + col + " IS NOT NULL)";
            default -> "list(CAST(" + col + " AS VARCHAR)) FILTER (WHERE " + col + " IS NOT NULL)";
        };
        StringBuilder sql = new StringBuilder("SELECT ").append(ws).append(" AS ws, ")
                .append(q.perSubject() ? "subject" : "NULL::VARCHAR").append(" AS s");
        for (String g : q.groupBy()) {
            sql.append(", ").append(g);
        }
        sql.append(", count(*) AS n, ").append(agg).append(" AS v, count(").append(col).append(") AS nv FROM ev")
                .append(join).append(" WHERE tenant = 'acme' AND t >= ").append(micros(q.from())).append(" AND t < ")
                .append(micros(q.to()));
        if (!q.subjects().isEmpty()) {
            sql.append(" AND subject IN ('").append(String.join("','", q.subjects())).append("')");
        }
        for (var f : q.filters().entrySet()) {
            sql.append(" AND ").append(f.getKey()).append(" IN ('").append(String.join("','", f.getValue())).append("')");
        }
        if (!m.filters().isEmpty()) {
            sql.append(" AND region IN ('eu', 'us')");
        }
        sql.append(" GROUP BY ALL");
        Map<String, String[]> rows = new java.util.TreeMap<>();
        List<Object[]> raw = new ArrayList<>();
        try (PreparedStatement ps = oracle.prepareStatement(sql.toString()); ResultSet rs = ps.executeQuery()) {
            while (rs.next()) {
                long w = rs.getLong(1);
                boolean none = rs.wasNull();
                Object[] row = new Object[5 + q.groupBy().size()];
                row[0] = none ? null : w;
                row[1] = rs.getString(2);
                Map<String, String> groups = new LinkedHashMap<>();
                for (int i = 0; i < q.groupBy().size(); i++) {
                    groups.put(q.groupBy().get(i), rs.getString(3 + i));
                }
                int c = 3 + q.groupBy().size();
                long n = rs.getLong(c);
                BigDecimal v = switch (m.aggregation()) {
                    case UNIQUE_COUNT, COUNT -> BigDecimal.valueOf(rs.getLong(c + 1));
                    case LATEST -> pickLatest(texts(rs.getArray(c + 1)));
                    case P50 -> nearestRank(texts(rs.getArray(c + 1)), new BigDecimal("0.50"));
                    case P90 -> nearestRank(texts(rs.getArray(c + 1)), new BigDecimal("0.90"));
                    case P95 -> nearestRank(texts(rs.getArray(c + 1)), new BigDecimal("0.95"));
                    case P99 -> nearestRank(texts(rs.getArray(c + 1)), new BigDecimal("0.99"));
                    default -> rs.getBigDecimal(c + 1);
                };
                long nv = rs.getLong(c + 2);
                if (m.aggregation() == Aggregation.SUM && v == null) {
                    v = BigDecimal.ZERO;
                }
                if (m.aggregation() == Aggregation.AVG) {
                    v = nv == 0 ? null : v.divide(BigDecimal.valueOf(nv), 9, RoundingMode.HALF_EVEN);
                }
                raw.add(new Object[] {row[0], row[1], groups, v, n});
            }
        }
        raw.sort((a, b) -> {
            int c = Long.compare(a[0] == null ? Long.MIN_VALUE : (Long) a[0], b[0] == null ? Long.MIN_VALUE : (Long) b[0]);
            if (c != 0) {
                return c;
            }
            c = Partial.compareText((String) a[1], (String) b[1]);
            if (c != 0) {
                return c;
            }
            @SuppressWarnings("unchecked")
            List<String> ga = new ArrayList<>(((Map<String, String>) a[2]).values());
            @SuppressWarnings("unchecked")
            List<String> gb = new ArrayList<>(((Map<String, String>) b[2]).values());
            for (int i = 0; i < ga.size(); i++) {
                c = Partial.compareText(ga.get(i), gb.get(i));
                if (c != 0) {
                    return c;
                }
            }
            return 0;
        });
        List<String> out = new ArrayList<>();
        for (Object[] row : raw) {
            Instant start;
            Instant end;
            if (row[0] == null) {
                start = q.from();
                end = q.to();
            } else {
                Instant natural = Instant.ofEpochSecond(0, 0).plus((Long) row[0], ChronoUnit.MICROS);
                start = natural.isBefore(q.from()) ? q.from() : natural;
                Instant ne = naturalEnd(q.window(), q.zone(), natural);
                end = ne.isAfter(q.to()) ? q.to() : ne;
            }
            BigDecimal v = (BigDecimal) row[3];
            out.add(start.atZone(q.zone()).toOffsetDateTime() + "|" + end.atZone(q.zone()).toOffsetDateTime() + "|"
                    + row[1] + "|" + row[2] + "|" + (v == null ? null : v.stripTrailingZeros().toPlainString()) + "|"
                    + row[4]);
        }
        rows.clear();
        return out;
    }


    private static List<String> texts(java.sql.Array a) throws java.sql.SQLException {
        List<String> out = new ArrayList<>();
        if (a != null) {
            for (Object o : (Object[]) a.getArray()) {
                out.add(o.toString());
            }
        }
        return out;
    }

    /** The value with the greatest (time, id): {@code time<US>id<US>value} strings from the oracle. */
    private static BigDecimal pickLatest(List<String> entries) {
        long bestT = Long.MIN_VALUE;
        String bestId = null;
        BigDecimal best = null;
        for (String e : entries) {
            String[] f = e.split("\u001f", 3);
            long t = Long.parseLong(f[0]);
            if (best == null || t > bestT || (t == bestT && f[1].compareTo(bestId) > 0)) {
                bestT = t;
                bestId = f[1];
                best = new BigDecimal(f[2]);
            }
        }
        return best;
    }

    /** Nearest rank, by hand: of n values sorted ascending, the one at 1-based rank ceil(q * n). */
    private static BigDecimal nearestRank(List<String> values, BigDecimal q) {
        if (values.isEmpty()) {
            return null;
        }
        List<BigDecimal> sorted = new ArrayList<>();
        values.forEach(v -> sorted.add(new BigDecimal(v)));
        sorted.sort(null);
        int rank = q.multiply(BigDecimal.valueOf(sorted.size())).setScale(0, RoundingMode.CEILING).intValueExact();
        return sorted.get(Math.max(1, rank) - 1);
    }
}
