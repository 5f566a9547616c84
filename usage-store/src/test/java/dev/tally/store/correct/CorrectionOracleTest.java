package dev.tally.store.correct;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tally.store.SegmentInfo;
import dev.tally.store.Totals;
import dev.tally.store.UsageEvent;
import dev.tally.store.UsageStore;
import dev.tally.store.meter.Aggregation;
import dev.tally.store.meter.MeterDefinition;
import dev.tally.store.meter.MeterQuery;
import dev.tally.store.meter.MeterRegistry;
import dev.tally.store.meter.MeterResult;
import dev.tally.store.meter.MeterRow;
import dev.tally.store.meter.MeterService;
import dev.tally.store.meter.WindowSize;
import dev.tally.store.sql.EventExport;
import dev.tally.store.sql.SandboxOptions;
import dev.tally.store.sql.SqlResult;
import dev.tally.store.sql.SqlSandbox;
import dev.tally.store.testing.MutableClock;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Function;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Random voids, amends and range voids over events in the sealed and the active tier, checked
 * against a straightforward recomputation: the generator keeps every event's current values in a
 * map (a void removes it, an amend replaces it), and every meter, {@code total()}, the export and
 * the SQL sandbox must answer exactly what that map says, in several time zones, before and after
 * the corrected events are sealed and the store is reopened.
 */
class CorrectionOracleTest {
    private static final Instant START = Instant.parse("2026-09-28T00:00:00Z");
    private static final Instant MID = Instant.parse("2026-10-20T00:00:00Z");
    private static final Instant END = Instant.parse("2026-11-10T00:00:00Z");
    private static final List<ZoneId> ZONES = List.of(ZoneOffset.UTC, ZoneId.of("Europe/Berlin"),
            ZoneId.of("America/New_York"), ZoneId.of("Asia/Kolkata"));
    private static final String TYPE = "llm.request";

    /** One event as the oracle knows it. */
    record Ev(String tenant, String id, String type, String subject, Instant time, BigDecimal tokens, String model,
            String user) {
        UsageEvent event() {
            return new UsageEvent(tenant, id, type, subject, "gen", time, "{\"tokens\":" + tokens.toPlainString()
                    + ",\"model\":\"" + model + "\",\"user\":\"" + user + "\"}");
        }
    }

    private final MutableClock clock = new MutableClock(END.plus(Duration.ofDays(1)));
    private final Map<String, Ev> current = new LinkedHashMap<>();
    private final Set<String> voided = new HashSet<>();
    private final Random random = new Random(20261202);
    /** Every event as appended, corrections ignored: the audit view. */
    private final Map<String, Ev> stored = new LinkedHashMap<>();
    private int seq;
    private int corrections;
    private int checks;

    private UsageStore open(Path dir) {
        return UsageStore.builder(dir).clock(clock).sealExecutor(Runnable::run).maxEventAge(Duration.ofDays(60)).detailRetention(Duration.ofDays(90))
                .build();
    }

    /** Random corrections across the sealed and active tiers match the recomputed oracle in every reader. */
    @Test
    void correct_randomVoidsAmendsAndRangesAcrossTiers_matchRecomputation(@TempDir Path dir, @TempDir Path out)
            throws Exception {
        run(dir, out, 700, 400, 200, 20);
    }

    /** The same with five times the events and corrections. */
    @Test
    @Tag("long")
    void correct_manyCorrections_matchRecomputation(@TempDir Path dir, @TempDir Path out) throws Exception {
        run(dir, out, 3000, 2000, 1000, 100);
    }

    private void run(Path dir, Path out, int sealed, int active, int late, int rounds) throws Exception {
        UsageStore store = open(dir);
        try {
            append(store, sealed, START, MID);
            store.sealNow();
            append(store, active, MID, END);
            correctRandomly(store, rounds);
            check(store, out, "first round: originals sealed and active");
            store.sealNow();
            append(store, late, MID, END);
            correctRandomly(store, rounds);
            check(store, out, "second round: corrected events sealed, new ones active");
        } finally {
            store.close();
        }
        store = open(dir);
        try {
            List<SegmentInfo.State> states = store.segments().stream().map(SegmentInfo::state).distinct().toList();
            assertTrue(states.contains(SegmentInfo.State.SEALED_DETAIL), "sealed detail: " + states);
            check(store, out, "after reopening");
            assertEquals(corrections, store.corrections("acme").size() + store.corrections("rival").size(),
                    "every stored correction is listed");
        } finally {
            store.close();
        }
    }

    private void append(UsageStore store, int n, Instant from, Instant to) {
        List<UsageEvent> batch = new ArrayList<>();
        long span = Duration.between(from, to).toSeconds();
        for (int i = 0; i < n; i++) {
            String tenant = random.nextInt(5) == 0 ? "rival" : "acme";
            Instant t = from.plusSeconds((long) (random.nextDouble() * span)).plusNanos(1000L * random.nextInt(1_000_000));
            Ev e = new Ev(tenant, "e" + (seq++), random.nextInt(10) == 0 ? "other" : TYPE, "key-" + random.nextInt(4), t,
                    tokens(), "m-" + random.nextInt(3), "u-" + random.nextInt(12));
            current.put(key(e.tenant(), e.id()), e);
            stored.put(key(e.tenant(), e.id()), e);
            batch.add(e.event());
        }
        var r = store.append(batch);
        assertEquals(List.of(), r.rejected());
        assertEquals(n, r.accepted());
    }

    private BigDecimal tokens() {
        return random.nextInt(4) == 0 ? BigDecimal.valueOf(random.nextInt(100_000), 3)
                : BigDecimal.valueOf(1 + random.nextInt(5000));
    }

    private static String key(String tenant, String id) {
        return tenant + "/" + id;
    }

    private List<Ev> live(String tenant) {
        return current.values().stream().filter(e -> e.tenant().equals(tenant)).toList();
    }

    private void correctRandomly(UsageStore store, int rounds) {
        for (int i = 0; i < rounds; i++) {
            String tenant = random.nextInt(4) == 0 ? "rival" : "acme";
            List<Ev> live = live(tenant);
            String cid = "c-" + (corrections + 1);
            int pick = random.nextInt(10);
            CorrectionResult r;
            if (pick < 4) {
                List<String> ids = new ArrayList<>();
                int k = 1 + random.nextInt(4);
                for (int j = 0; j < k; j++) {
                    ids.add(live.get(random.nextInt(live.size())).id());
                }
                Set<String> distinct = new java.util.LinkedHashSet<>(ids);
                // Unknown ids are reported one by one: an id that never existed, one of the other tenant, one voided.
                String other = live(tenant.equals("acme") ? "rival" : "acme").get(0).id();
                ids.add("never-" + i);
                ids.add(other);
                boolean withVoided = !voided.isEmpty() && random.nextBoolean();
                String gone = null;
                if (withVoided) {
                    gone = voided.stream().filter(x -> x.startsWith(tenant + "/")).findFirst().orElse(null);
                    if (gone != null) {
                        ids.add(gone.substring(tenant.length() + 1));
                    }
                }
                r = store.correct(Correction.voidIds(cid, tenant, ids, "oracle", "random void"));
                assertEquals(distinct.size(), r.events(), "voided " + distinct);
                List<String> rejectedIds = r.rejected().stream().map(CorrectionRejection::id).toList();
                assertTrue(rejectedIds.contains("never-" + i) && rejectedIds.contains(other),
                        "unknown ids reported: " + r.rejected());
                if (gone != null) {
                    assertTrue(r.rejected().stream().anyMatch(x -> x.reason() == CorrectionRejectReason.ALREADY_VOIDED),
                            "voided id reported: " + r.rejected());
                }
                if (!tenant.equals("acme") || !other.isEmpty()) {
                    assertTrue(current.containsKey(key(tenant.equals("acme") ? "rival" : "acme", other)),
                            "the other tenant's event is untouched in the oracle");
                }
                for (String id : distinct) {
                    current.remove(key(tenant, id));
                    voided.add(key(tenant, id));
                }
            } else if (pick < 8) {
                Ev e = live.get(random.nextInt(live.size()));
                LocalDate day = e.time().atOffset(ZoneOffset.UTC).toLocalDate();
                Instant t = day.atStartOfDay(ZoneOffset.UTC).toInstant().plusSeconds(random.nextInt(86_400))
                        .plusNanos(1000L * random.nextInt(1_000_000));
                Ev n = new Ev(e.tenant(), e.id(), random.nextInt(8) == 0 ? "other" : TYPE,
                        random.nextBoolean() ? e.subject() : "key-" + random.nextInt(4), t, tokens(),
                        "m-" + random.nextInt(3), "u-" + random.nextInt(12));
                r = store.correct(Correction.amend(cid, n.event(), "oracle", "random amend"));
                assertEquals(1, r.events(), "amended " + e.id() + ": " + r.rejected());
                current.put(key(e.tenant(), e.id()), n);
            } else {
                Ev e = live.get(random.nextInt(live.size()));
                Instant from = e.time().truncatedTo(ChronoUnit.HOURS);
                Instant to = from.plus(Duration.ofHours(1 + random.nextInt(6)));
                String subject = random.nextBoolean() ? e.subject() : null;
                String type = random.nextBoolean() ? e.type() : null;
                r = store.correct(Correction.voidRange(cid, tenant, new Correction.Range(subject, type, from, to),
                        "oracle", "random range"));
                List<Ev> hit = live.stream().filter(x -> !x.time().isBefore(from) && x.time().isBefore(to)
                        && (subject == null || subject.equals(x.subject())) && (type == null || type.equals(x.type())))
                        .toList();
                assertEquals(hit.size(), r.events(), "range " + from + ".." + to + " " + subject + " " + type);
                for (Ev x : hit) {
                    current.remove(key(tenant, x.id()));
                    voided.add(key(tenant, x.id()));
                }
            }
            corrections++;
            assertFalse(r.duplicate());
            // Resending the same correction id changes nothing.
            CorrectionResult again = store.correct(Correction.voidIds(cid, tenant, List.of(live.get(0).id()), "oracle",
                    "resend"));
            assertTrue(again.duplicate(), "resent " + cid);
            assertEquals(r.events(), again.events());
        }
        // An amend that moves the time out of its UTC day is refused and changes nothing.
        Ev e = live("acme").get(0);
        CorrectionResult r = store.correct(Correction.amend("bad-" + corrections, new Ev(e.tenant(), e.id(), e.type(),
                e.subject(), e.time().plus(Duration.ofDays(2)), e.tokens(), e.model(), e.user()).event(), "oracle", "x"));
        assertEquals(0, r.events());
        assertEquals(CorrectionRejectReason.INVALID_REPLACEMENT, r.rejected().get(0).reason());
    }

    // ---------------------------------------------------------------- checks

    private void check(UsageStore store, Path out, String when) throws Exception {
        MeterRegistry reg = new MeterRegistry();
        for (Aggregation a : Aggregation.values()) {
            String value = a == Aggregation.UNIQUE_COUNT ? "$.user" : a == Aggregation.COUNT ? null : "$.tokens";
            reg.register(new MeterDefinition("m_" + a.name().toLowerCase(), TYPE, a, value, Map.of("model", "$.model"),
                    Map.of()));
        }
        try (MeterService meters = new MeterService(store, reg)) {
            // UTC hour windows without groups take the rollup path (MIN and MAX fall back to detail);
            // a day in another zone, grouped by model, reads detail. The zone rotates between checks.
            ZoneId other = ZONES.get(1 + checks++ % (ZONES.size() - 1));
            for (ZoneId z : List.of(ZoneOffset.UTC, other)) {
                boolean grouped = z != ZoneOffset.UTC;
                WindowSize w = grouped ? WindowSize.DAY : WindowSize.HOUR;
                Instant from = START.atZone(z).toLocalDate().plusDays(1).atStartOfDay(z).toInstant();
                Instant to = END.atZone(z).toLocalDate().atStartOfDay(z).toInstant();
                for (Aggregation a : Aggregation.values()) {
                    MeterQuery q = new MeterQuery("m_" + a.name().toLowerCase(), "acme", from, to, w, z, List.of(),
                            true, grouped ? List.of("model") : List.of(), Map.of(), false);
                    // Twice: the second answer comes from the per-part cache.
                    for (int pass = 0; pass < 2; pass++) {
                        MeterResult res = meters.query(q);
                        assertEquals(expected(a, q, grouped, false), actual(res), when + ": " + a + " " + w + " " + z
                                + (grouped ? " by model" : "") + " (" + res.source() + ")");
                        if (Set.of(Aggregation.UNIQUE_COUNT, Aggregation.LATEST, Aggregation.P50, Aggregation.P90, Aggregation.P95,
                                Aggregation.P99).contains(a)) {
                            break;
                        }
                    }
                }
                // The audit view answers as if nothing had been corrected.
                MeterQuery q = new MeterQuery("m_sum", "acme", from, to, w, z, List.of(), true,
                        grouped ? List.of("model") : List.of(), Map.of(), false);
                assertEquals(expected(Aggregation.SUM, q, grouped, true), actual(meters.query(q, true)), when + ": audit");
            }
        }
        for (String subject : List.of("key-0", "key-3")) {
            Totals t = store.total("acme", TYPE, subject, "$.tokens", START, END);
            List<Ev> evs = live("acme").stream().filter(e -> e.type().equals(TYPE) && e.subject().equals(subject)).toList();
            assertEquals(evs.size(), t.events(), when + ": total() events of " + subject);
            assertEquals(0, evs.stream().map(Ev::tokens).reduce(BigDecimal.ZERO, BigDecimal::add).compareTo(t.sum()),
                    when + ": total() sum of " + subject + " = " + t.sum());
        }
        // Export and the SQL sandbox list exactly the live events, with their current values.
        String expectDigest = digest(live("acme"));
        EventExport.Result ex = EventExport.export(store, new EventExport.Request("acme", START, END,
                EventExport.Format.PARQUET, out, "acme-" + System.nanoTime() + ".parquet", false));
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement s = c.createStatement();
                ResultSet rs = s.executeQuery("SELECT string_agg(id || '|' || type || '|' || subject || '|' || "
                        + "epoch_us(time) || '|' || (data->>'tokens')::DECIMAL(38,9) || '|' || (data->>'model'), ';' "
                        + "ORDER BY id) FROM read_parquet('" + ex.file() + "')")) {
            rs.next();
            assertEquals(expectDigest, rs.getString(1), when + ": export");
        }
        try (SqlSandbox sb = SqlSandbox.open(store, "acme", SandboxOptions.defaults().withWorkDir(out))) {
            SqlResult res = sb.query("SELECT string_agg(id || '|' || type || '|' || subject || '|' || epoch_us(time) "
                    + "|| '|' || (data->>'tokens')::DECIMAL(38,9) || '|' || (data->>'model'), ';' ORDER BY id) FROM usage_events");
            assertEquals(expectDigest, String.valueOf(res.rows().get(0).get(0)), when + ": sandbox usage_events");
            SqlResult roll = sb.query("SELECT sum(value_count) FILTER (WHERE property IS NULL), "
                    + "sum(value_sum) FILTER (WHERE property = 'tokens') FROM usage_rollups_hourly WHERE type = '" + TYPE + "'");
            List<Ev> typed = live("acme").stream().filter(e -> e.type().equals(TYPE)).toList();
            assertEquals(String.valueOf(typed.size()), String.valueOf(roll.rows().get(0).get(0)), when + ": sandbox rollup count");
            assertEquals(0, typed.stream().map(Ev::tokens).reduce(BigDecimal.ZERO, BigDecimal::add)
                    .compareTo(new BigDecimal(String.valueOf(roll.rows().get(0).get(1)))), when + ": sandbox rollup sum");
        }
    }

    private static String digest(List<Ev> evs) {
        StringBuilder sb = new StringBuilder();
        evs.stream().sorted(Comparator.comparing(Ev::id)).forEach(e -> sb.append(sb.isEmpty() ? "" : ";").append(e.id())
                .append('|').append(e.type()).append('|').append(e.subject()).append('|')
                .append(e.time().getEpochSecond() * 1_000_000 + e.time().getNano() / 1000).append('|')
                .append(e.tokens().setScale(9).toPlainString()).append('|').append(e.model()));
        return sb.toString();
    }

    private static Map<String, String> actual(MeterResult res) {
        Map<String, String> m = new TreeMap<>();
        for (MeterRow row : res.rows()) {
            m.put(row.windowStart().toInstant() + " " + row.subject() + " " + row.groups().values(),
                    row.events() + " " + (row.value() == null ? "null" : row.value().stripTrailingZeros().toPlainString()));
        }
        return m;
    }

    private Map<String, String> expected(Aggregation a, MeterQuery q, boolean grouped, boolean asStored) {
        Map<String, List<Ev>> groups = new TreeMap<>();
        Function<Instant, Instant> window = t -> q.window() == WindowSize.HOUR ? t.truncatedTo(ChronoUnit.HOURS)
                : t.atZone(q.zone()).toLocalDate().atStartOfDay(q.zone()).toInstant();
        for (Ev e : asStored ? stored.values().stream().filter(x -> x.tenant().equals("acme")).toList() : live("acme")) {
            if (e.type().equals(TYPE) && !e.time().isBefore(q.from()) && e.time().isBefore(q.to())) {
                String k = window.apply(e.time()) + " " + e.subject() + " " + (grouped ? List.of(e.model()) : List.of());
                groups.computeIfAbsent(k, x -> new ArrayList<>()).add(e);
            }
        }
        Map<String, String> m = new TreeMap<>();
        groups.forEach((k, evs) -> {
            List<BigDecimal> v = evs.stream().map(Ev::tokens).sorted().toList();
            BigDecimal value = switch (a) {
                case SUM -> v.stream().reduce(BigDecimal.ZERO, BigDecimal::add);
                case COUNT -> BigDecimal.valueOf(evs.size());
                case MIN -> v.get(0);
                case MAX -> v.get(v.size() - 1);
                case AVG -> v.stream().reduce(BigDecimal.ZERO, BigDecimal::add)
                        .divide(BigDecimal.valueOf(v.size()), MeterRow.AVG_SCALE, RoundingMode.HALF_EVEN);
                case UNIQUE_COUNT -> BigDecimal.valueOf(evs.stream().map(Ev::user).distinct().count());
                case LATEST -> evs.stream().max(Comparator.comparing(Ev::time).thenComparing(Ev::id)).orElseThrow().tokens();
                default -> v.get(Math.max(1, BigDecimal.valueOf(a.quantile()).multiply(BigDecimal.valueOf(v.size()))
                        .setScale(0, RoundingMode.CEILING).intValueExact()) - 1);
            };
            m.put(k, evs.size() + " " + value.stripTrailingZeros().toPlainString());
        });
        return m;
    }
}
