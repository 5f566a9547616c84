package dev.tally.store.sql;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tally.store.SegmentInfo;
import dev.tally.store.StoreException;
import dev.tally.store.UsageEvent;
import dev.tally.store.UsageStore;
import dev.tally.store.meter.Aggregation;
import dev.tally.store.meter.MeterDefinition;
import dev.tally.store.meter.MeterQuery;
import dev.tally.store.meter.MeterRegistry;
import dev.tally.store.meter.MeterService;
import dev.tally.store.meter.WindowSize;
import dev.tally.store.testing.MutableClock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What a hostile tenant can make the SQL sandbox and meter queries do, and what a damaged part lets it see. */
class HostileTenantTest {
    private static final Instant NOW = Instant.parse("2026-11-20T12:00:00Z");
    private static final String SECRET = "globex-secret-Q7ZK4XW9";

    @TempDir
    Path dir;

    private UsageStore openStore() {
        return UsageStore.builder(dir.resolve("store")).clock(new MutableClock(NOW)).sealExecutor(Runnable::run).build();
    }

    private SandboxOptions options() throws Exception {
        return SandboxOptions.defaults().withWorkDir(Files.createDirectories(dir.resolve("work")));
    }

    private static SqlSandboxException.Kind kindOf(SqlSandbox s, String sql) {
        return assertThrows(SqlSandboxException.class, () -> s.query(sql), sql).kind();
    }

    /** SELECT repeat('x', 1000000000) is refused before it runs, quickly, naming the byte limit. */
    @Test
    void query_repeatOfAGigabyte_refusedQuicklyNamingTheByteLimit() throws Exception {
        try (UsageStore store = openStore(); SqlSandbox s = SqlSandbox.open(store, "acme", options())) {
            long t0 = System.nanoTime();
            SqlSandboxException e = assertThrows(SqlSandboxException.class,
                    () -> s.query("SELECT repeat('x', 1000000000) AS s"));
            // Unloaded this takes milliseconds; running the statement would take seconds and a gigabyte.
            assertTrue(Duration.ofNanos(System.nanoTime() - t0).compareTo(Duration.ofSeconds(10)) < 0);
            assertEquals(SqlSandboxException.Kind.RESULT_TOO_LARGE, e.kind());
            assertTrue(e.getMessage().contains("result byte limit of 16777216 bytes")
                    && e.getMessage().contains("nothing ran"), e.getMessage());
            for (String sql : List.of("SELECT lpad('a', 2000000000, 'b')", "SELECT printf('%1000000000s', 'a')",
                    "SELECT range(100000000)", "SELECT repeat('x', 1000000000::BIGINT)")) {
                assertEquals(SqlSandboxException.Kind.RESULT_TOO_LARGE, kindOf(s, sql), sql);
            }
            assertEquals(List.of(List.of(3L)), s.query("SELECT count(*) FROM range(3)").rows(), "still serving");
        }
    }

    /** A result over the byte limit that only running shows (computed sizes, many rows) is refused before any value reaches Java. */
    @Test
    void query_largeResultAtRunTime_refusedNamingTheLimit() throws Exception {
        try (UsageStore store = openStore();
                SqlSandbox s = SqlSandbox.open(store, "acme", options().withMaxResultBytes(1 << 20))) {
            for (String sql : List.of("SELECT repeat('x', n) FROM (SELECT 3000000 AS n)",
                    "SELECT repeat('x', n) AS s FROM (SELECT 300000 AS n FROM range(5))",
                    "SELECT string_agg('abcdefghij', '') FROM range(200000)")) {
                SqlSandboxException e = assertThrows(SqlSandboxException.class, () -> s.query(sql), sql);
                assertEquals(SqlSandboxException.Kind.RESULT_TOO_LARGE, e.kind(), e.getMessage());
                assertTrue(e.getMessage().contains("1048576 bytes"), e.getMessage());
            }
            assertEquals(4, s.query("SELECT repeat('x', n) AS s FROM (SELECT 200000 AS n FROM range(4))").rows().size());
        }
    }

    /** A statement needing more than the sandbox's memory limit is refused by DuckDB, named, and the sandbox keeps serving. */
    @Test
    void query_overMemoryLimit_refusedByTheEngine() throws Exception {
        try (UsageStore store = openStore();
                SqlSandbox s = SqlSandbox.open(store, "acme", options().withMemoryLimit(32L << 20)
                        .withMaxResultBytes(1L << 30))) {
            SqlSandboxException e = assertThrows(SqlSandboxException.class,
                    () -> s.query("SELECT repeat('x', n) FROM (SELECT 64000000 AS n)"));
            assertEquals(SqlSandboxException.Kind.MEMORY_LIMIT, e.kind(), e.getMessage());
            assertTrue(e.getMessage().contains("memory limit of 33554432 bytes"), e.getMessage());
            assertEquals(List.of(List.of(1L)), s.query("SELECT 1::BIGINT").rows());
        }
    }

    /** A long-running statement is cancelled at the time limit and the sandbox answers the next one. */
    @Test
    void query_longRunning_cancelledAtTheTimeLimit() throws Exception {
        try (UsageStore store = openStore();
                SqlSandbox s = SqlSandbox.open(store, "acme", options().withTimeout(Duration.ofMillis(700)))) {
            long t0 = System.nanoTime();
            SqlSandboxException e = assertThrows(SqlSandboxException.class,
                    () -> s.query("SELECT count(*) FROM range(100000000000) a(i) WHERE i * i % 7 = 13"));
            Duration took = Duration.ofNanos(System.nanoTime() - t0);
            assertEquals(SqlSandboxException.Kind.TIMEOUT, e.kind());
            assertTrue(e.getMessage().contains("time limit of 700 ms"), e.getMessage());
            assertTrue(took.compareTo(Duration.ofSeconds(20)) < 0, "stopped near the limit, not after the whole scan: "
                    + took);
            assertEquals(List.of(List.of(2L)), s.query("SELECT 2::BIGINT").rows());
        }
    }

    /** TIME 24:00:00 (which the JDBC driver cannot read) comes back as text, as do other TIME values. */
    @Test
    void query_time2400_returnedAsText() throws Exception {
        try (UsageStore store = openStore(); SqlSandbox s = SqlSandbox.open(store, "acme", options())) {
            SqlResult r = s.query("SELECT '24:00:00'::TIME AS t, '10:30:00'::TIME AS u, '24:00:00+02'::TIMETZ AS z;");
            assertEquals(List.of("24:00:00", "10:30:00", "24:00:00+02"), r.rows().get(0));
            assertEquals("TIME", r.types().get(0));
        }
    }

    /** A sealed part holding tenant B's secret is damaged: tenant A's errors (SQL and meters) carry neither the secret nor a server path; later answers say they are partial. */
    @Test
    void damagedSharedPart_errorsToAnotherTenantAreRedacted() throws Exception {
        Path dataDir = dir.resolve("store");
        MeterRegistry reg = new MeterRegistry();
        reg.register(new MeterDefinition("tokens", "llm.request", Aggregation.SUM, "$.input_tokens",
                Map.of(), Map.of()));
        List<String> answers = new ArrayList<>();
        try (UsageStore store = openStore(); MeterService meters = new MeterService(store, reg, 0)) {
            List<UsageEvent> events = new ArrayList<>();
            for (int i = 0; i < 50; i++) {
                events.add(new UsageEvent("acme", "a" + i, "llm.request", "key-1", "t", NOW.minus(Duration.ofHours(30 + i % 5)),
                        "{\"input_tokens\":" + i + "}"));
                events.add(new UsageEvent("globex", "g" + i, "llm.request", "key-9", "t",
                        NOW.minus(Duration.ofHours(30 + i % 5)), i == 7 ? "{\"input_tokens\":1,\"note\":\"" + SECRET
                                + "\"}" : "{\"input_tokens\":1}"));
            }
            store.append(events);
            store.sealNow();
            // The disk damages the part under the running store (its dedup index is already built).
            Path part = damageWhereSecretIs(dataDir);
            RuntimeException sqlError = assertThrows(RuntimeException.class,
                    () -> SqlSandbox.open(store, "acme", options()).close());
            answers.add(sqlError.getMessage());
            assertTrue(sqlError instanceof StoreException, sqlError.toString());
            assertTrue(sqlError.getMessage().contains("incident"), sqlError.getMessage());
            // The part is quarantined now; a meter query over the range answers or refuses, never leaks.
            try {
                meters.query(new MeterQuery("tokens", "acme", NOW.minus(Duration.ofDays(3)), NOW, WindowSize.DAY,
                        ZoneOffset.UTC, List.of(), false, List.of(), Map.of(), true));
            } catch (RuntimeException e) {
                answers.add(e.getMessage());
            }
            try (SqlSandbox s = SqlSandbox.open(store, "acme", options())) {
                SqlResult r = s.query("SELECT count(*) FROM usage_events");
                assertTrue(r.partial(), "the answer says a quarantined part is missing");
                assertTrue(r.render(OutputFormat.JSON).contains("\"partial\":true"), r.render(OutputFormat.JSON));
                assertTrue(r.render(OutputFormat.TABLE).contains("warning: partial: archive part"));
                answers.add(r.render(OutputFormat.JSON));
                answers.add(assertThrows(SqlSandboxException.class, () -> s.query("SELECT * FROM '" + part + "'"))
                        .getMessage());
            }
            long quarantinedRows = store.segments().stream()
                    .filter(x -> x.state() == SegmentInfo.State.QUARANTINED).mapToLong(SegmentInfo::rows).sum();
            assertTrue(quarantinedRows > 0);
        }
        assertFalse(answers.isEmpty());
        for (String a : answers) {
            assertFalse(a.contains(SECRET), "another tenant's value: " + a);
            assertFalse(a.contains(dataDir.toAbsolutePath().toString()) || a.contains(dir.toString()),
                    "a server path: " + a);
        }
    }

    /** Flips a byte inside the secret in the (single) detail part, so decoding it fails on that value. */
    private static Path damageWhereSecretIs(Path dataDir) throws Exception {
        Path part;
        try (Stream<Path> s = Files.walk(dataDir.resolve("archive"))) {
            part = s.filter(p -> p.toString().endsWith(".parquet")).findFirst()
                    .orElseThrow();
        }
        byte[] b = Files.readAllBytes(part);
        byte[] needle = SECRET.getBytes(StandardCharsets.UTF_8);
        int at = indexOf(b, needle);
        if (at >= 0) {
            b[at + needle.length - 3] = (byte) 0xFF; // invalid UTF-8 inside the value
        } else {
            for (int i = b.length / 4; i < b.length / 2; i++) {
                b[i] ^= 0x5A; // compressed: damage a stretch of pages
            }
        }
        Files.write(part, b);
        return part;
    }

    private static int indexOf(byte[] hay, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= hay.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (hay[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }

    /** CSV cells that a spreadsheet would run as formulas get a leading quote; plain numbers and other output stay as they are. */
    @Test
    void csv_formulaCells_prefixedWithAQuote() {
        SqlResult r = new SqlResult(List.of("a", "b", "c", "d", "e", "f"), List.of("VARCHAR", "VARCHAR", "VARCHAR",
                "VARCHAR", "BIGINT", "VARCHAR"), List.of(List.of("=HYPERLINK(\"x\")", "+1+2", "@SUM(A1)", "\tcmd", -5L,
                        "-3.5")), false);
        assertEquals("a,b,c,d,e,f\n\"'=HYPERLINK(\"\"x\"\")\",'+1+2,'@SUM(A1),'\tcmd,-5,-3.5\n",
                r.render(OutputFormat.CSV));
        assertTrue(r.render(OutputFormat.JSON).contains("\"=HYPERLINK"), "JSON is unchanged");
    }
}
