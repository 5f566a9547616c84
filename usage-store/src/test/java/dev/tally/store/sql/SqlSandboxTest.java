package dev.tally.store.sql;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tally.store.SegmentInfo;
import dev.tally.store.UsageEvent;
import dev.tally.store.UsageStore;
import dev.tally.store.testing.MutableClock;
import java.math.BigDecimal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/** The per-tenant SQL sandbox: what it shows, what it refuses and how it writes results. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class SqlSandboxTest {
    private static final Instant NOW = Instant.parse("2026-11-20T12:00:00Z");

    private UsageStore store;
    private SqlSandbox sandbox;
    private Path dataDir;
    private Path work;

    @BeforeAll
    void open(@TempDir Path dir) throws Exception {
        dataDir = dir.resolve("store");
        work = Files.createDirectories(dir.resolve("work"));
        store = UsageStore.builder(dataDir).clock(new MutableClock(NOW)).sealExecutor(Runnable::run).build();
        List<UsageEvent> sealed = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            sealed.add(new UsageEvent(i % 4 == 0 ? "globex" : "acme", "s" + i, "llm.request", "key-" + (i % 3), "t",
                    NOW.minus(Duration.ofHours(2 + i)), "{\"input_tokens\":" + (i + 1) + "}"));
        }
        store.append(sealed);
        store.sealNow();
        store.append(List.of(new UsageEvent("acme", "a1", "llm.request", "key-0", "t", NOW.minusSeconds(30),
                "{\"input_tokens\":1000}"), new UsageEvent("globex", "g1", "llm.request", "secret-subject", "t",
                NOW.minusSeconds(20), "{\"input_tokens\":5}")));
        assertTrue(store.segments().stream().anyMatch(s -> s.state() == SegmentInfo.State.ACTIVE && s.rows() > 0));
        sandbox = SqlSandbox.open(store, "acme", SandboxOptions.defaults().withWorkDir(work)
                .withTimeout(Duration.ofMillis(500)).withMaxRows(5));
    }

    @AfterAll
    void close() {
        sandbox.close();
        store.close();
    }

    private SqlSandboxException.Kind refusedKind(String sql) {
        SqlSandboxException e = assertThrows(SqlSandboxException.class, () -> sandbox.query(sql), sql);
        assertTrue(e.getMessage().length() > 20, "a clear message: " + e.getMessage());
        return e.kind();
    }

    /** usage_events and usage_rollups_hourly hold the tenant's sealed and active rows, and only those. */
    @Test
    void views_holdOnlyTheTenantsRowsFromEveryTier() {
        SqlResult r = sandbox.query("SELECT count(*) AS n, sum((data->>'input_tokens')::DECIMAL(38,9)) AS total, "
                + "list(DISTINCT tenant) AS tenants FROM usage_events");
        assertEquals(List.of(31L, new BigDecimal("1630.000000000"), "[acme]"), r.rows().get(0));
        SqlResult rollups = sandbox.query("SELECT sum(value_count) FILTER (WHERE property IS NULL) AS events, "
                + "sum(value_sum) FILTER (WHERE property = 'input_tokens') AS total, count(DISTINCT tenant) AS tenants "
                + "FROM usage_rollups_hourly");
        assertEquals(List.of(new BigDecimal("31"), new BigDecimal("1630.000000000"), 1L),
                List.of(new BigDecimal(rollups.rows().get(0).get(0).toString()), rollups.rows().get(0).get(1),
                        rollups.rows().get(0).get(2)));
        assertEquals(31, sandbox.events());
    }

    /** Another tenant's rows and names are in no table, catalog function or schema view. */
    @Test
    void catalog_showsNothingOfAnotherTenant() {
        assertEquals(List.of(List.of(0L)), sandbox.query("SELECT count(*) FROM usage_events WHERE tenant = 'globex' "
                + "OR subject = 'secret-subject'").rows());
        assertEquals(Set.of("usage_events", "usage_rollups_hourly", "usage_corrections"), Set.copyOf(sandbox.query(
                "SELECT table_name FROM duckdb_tables()").rows().stream().map(x -> x.get(0)).toList()));
        assertEquals(Set.of("usage_events", "usage_rollups_hourly", "usage_corrections"), Set.copyOf(sandbox.query(
                "SELECT table_name FROM information_schema.tables").rows().stream().map(x -> x.get(0)).toList()));
        for (String catalog : List.of("duckdb_tables()", "duckdb_views()", "duckdb_columns()", "duckdb_databases()",
                "information_schema.columns", "duckdb_schemas()")) {
            String all = sandbox.query("SELECT string_agg(x::VARCHAR, '|') FROM " + catalog + " x").render(OutputFormat.CSV);
            assertFalse(all.contains("globex") || all.contains("secret-subject") || all.contains(dataDir.toString()),
                    catalog + " leaks another tenant or the store's files");
        }
    }

    /** Reading any file is denied: system files, the store's own Parquet parts, globs and replacement scans. */
    @Test
    void files_cannotBeRead() throws Exception {
        Path part;
        try (var walk = Files.walk(dataDir.resolve("archive"))) {
            part = walk.filter(p -> p.toString().endsWith(".parquet")).findFirst().orElseThrow();
        }
        for (String sql : List.of("SELECT * FROM read_csv('/etc/passwd')", "SELECT * FROM read_text('/etc/passwd')",
                "SELECT * FROM read_blob('/etc/passwd')", "SELECT * FROM read_parquet('" + part + "')",
                "SELECT * FROM parquet_metadata('" + part + "')", "SELECT * FROM glob('" + dataDir + "/**')",
                "SELECT * FROM read_json_auto('/etc/hostname')")) {
            assertEquals(SqlSandboxException.Kind.DENIED, refusedKind(sql), sql);
        }
        SqlSandboxException.Kind scan = refusedKind("SELECT * FROM '" + part + "'");
        assertTrue(scan == SqlSandboxException.Kind.DENIED || scan == SqlSandboxException.Kind.INVALID, scan.name());
    }

    /** Anything but one single SELECT is rejected before it is prepared, and the tables stay intact. */
    @Test
    void statements_otherThanOneSelectAreRejected() {
        Path out = work.resolve("leak.csv");
        for (String sql : List.of("COPY usage_events TO '" + out + "'", "COPY (SELECT 1) TO '" + out + "'",
                "ATTACH '" + work.resolve("x.duckdb") + "' AS x", "INSTALL httpfs", "LOAD httpfs", "SET threads = 8",
                "RESET memory_limit", "SET enable_external_access = true", "PRAGMA database_list",
                "CREATE TABLE t AS SELECT 1", "CREATE TEMP VIEW v AS SELECT 1", "DROP TABLE usage_events",
                "INSERT INTO usage_events SELECT * FROM usage_events", "DELETE FROM usage_events",
                "UPDATE usage_events SET tenant = 'x'", "SELECT 1; SELECT 2", "SELECT 1; DROP TABLE usage_events",
                "EXPLAIN SELECT 1", "CALL pragma_version()", "CHECKPOINT", "DETACH sandbox", "USE system",
                "EXPORT DATABASE '" + work + "'", "VACUUM", "BEGIN TRANSACTION", "SET VARIABLE x = 1")) {
            assertEquals(SqlSandboxException.Kind.REJECTED, refusedKind(sql), sql);
        }
        assertFalse(Files.exists(out));
        assertEquals(31L, sandbox.query("SELECT count(*) FROM usage_events").rows().get(0).get(0));
        SqlSandboxException e = assertThrows(SqlSandboxException.class, () -> sandbox.query("SELECT 1; SELECT 2"));
        assertTrue(e.getMessage().contains("exactly one statement is allowed, got 2"), e.getMessage());
        e = assertThrows(SqlSandboxException.class, () -> sandbox.query("DROP TABLE usage_events"));
        assertTrue(e.getMessage().contains("only a single SELECT statement is allowed"), e.getMessage());
    }

    /** Settings stay locked even through functions, a long statement is stopped, and results are capped. */
    @Test
    void limits_timeoutRowCapAndLockedSettings() {
        assertEquals(List.of("false", "true"), sandbox.query("SELECT current_setting('enable_external_access')::VARCHAR, "
                + "current_setting('lock_configuration')::VARCHAR").rows().get(0));
        assertEquals(SqlSandboxException.Kind.TIMEOUT,
                refusedKind("SELECT count(*) FROM range(100000000000) a(i) WHERE i % 7 = 13"));
        SqlResult capped = sandbox.query("SELECT * FROM range(100)");
        assertEquals(5, capped.rows().size());
        assertTrue(capped.truncated());
        assertFalse(sandbox.query("SELECT * FROM range(5)").truncated());
        assertEquals(SqlSandboxException.Kind.INVALID, refusedKind("SELECT nope FROM usage_events"));
        assertEquals(SqlSandboxException.Kind.INVALID, refusedKind("SELEC 1"));
    }

    /** Table, CSV and JSON output are exact, quoted where needed, and mark NULL and truncation. */
    @Test
    void output_tableCsvAndJson() {
        SqlResult r = sandbox.query("SELECT 'a,b \"c\"' AS text, 12345678901234567890.123456789::DECIMAL(38,9) AS amount, "
                + "NULL::VARCHAR AS missing, TIMESTAMP '2026-11-20 10:00:00.5' AS at, 7 AS n");
        assertEquals("""
                text    | amount                         | missing | at                       | n
                --------+--------------------------------+---------+--------------------------+--
                a,b "c" | 12345678901234567890.123456789 | NULL    | 2026-11-20T10:00:00.500Z | 7
                (1 row)
                """, r.render(OutputFormat.TABLE));
        assertEquals("text,amount,missing,at,n\n\"a,b \"\"c\"\"\",12345678901234567890.123456789,,2026-11-20T10:00:00.500Z,7\n",
                r.render(OutputFormat.CSV));
        assertEquals("{\"columns\":[{\"name\":\"text\",\"type\":\"VARCHAR\"},{\"name\":\"amount\",\"type\":\"DECIMAL(38,9)\"},"
                + "{\"name\":\"missing\",\"type\":\"VARCHAR\"},{\"name\":\"at\",\"type\":\"TIMESTAMP\"},"
                + "{\"name\":\"n\",\"type\":\"INTEGER\"}],\"rows\":[[\"a,b \\\"c\\\"\",12345678901234567890.123456789,null,"
                + "\"2026-11-20T10:00:00.500Z\",7]],\"rowCount\":1,\"truncated\":false}", r.render(OutputFormat.JSON));
        assertTrue(sandbox.query("SELECT * FROM range(10)").render(OutputFormat.TABLE).endsWith(
                "(5 rows; truncated, the statement produced more)\n"));
    }
}
