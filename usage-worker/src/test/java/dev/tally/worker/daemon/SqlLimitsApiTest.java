package dev.tally.worker.daemon;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tally.worker.testing.Events;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** /v1/sql limits, duplicate keys and redacted errors against a real worker in this JVM. */
class SqlLimitsApiTest extends InProcessWorkerTest {

    private HttpResponse<String> sql(String statement) throws Exception {
        return http.post("/v1/sql?tenant=acme", "text/plain", statement);
    }

    private static String error(HttpResponse<String> r) throws Exception {
        return JSON.readTree(r.body()).path("error").asText();
    }

    /** Over the byte, memory or time limit a statement gets a 4xx naming the limit, and the worker keeps serving. */
    @Test
    void postSql_overEachLimit_4xxNamingTheLimit() throws Exception {
        start("sql.memory-limit", "16MiB", "sql.timeout", "3s", "sql.max-result-bytes", "1MiB");
        HttpResponse<String> big = sql("SELECT repeat('x', 1000000000) AS s");
        assertEquals(422, big.statusCode(), big.body());
        assertEquals("sql_result_too_large", error(big));
        // Refused from the statement's text, before it runs (running it takes seconds and a gigabyte).
        assertTrue(big.body().contains("sql.max-result-bytes") && big.body().contains("nothing ran"), big.body());
        HttpResponse<String> wide = sql("SELECT repeat('x', n) FROM (SELECT 300000 AS n FROM range(10))");
        assertEquals("sql_result_too_large", error(wide), wide.body());
        HttpResponse<String> memory = sql("SELECT repeat('x', n) FROM (SELECT 24000000 AS n)");
        assertEquals(422, memory.statusCode(), memory.body());
        assertEquals("sql_memory_limit", error(memory));
        assertTrue(memory.body().contains("sql.memory-limit"), memory.body());
        HttpResponse<String> slow = sql("SELECT count(*) FROM range(100000000000) a(i) WHERE i * i % 7 = 13");
        assertEquals(422, slow.statusCode(), slow.body());
        assertEquals("sql_timeout", error(slow));
        assertTrue(slow.body().contains("sql.timeout"), slow.body());
        HttpResponse<String> time = sql("SELECT '24:00:00'::TIME AS t");
        assertEquals(200, time.statusCode(), time.body());
        assertEquals("24:00:00", JSON.readTree(time.body()).get("rows").get(0).get(0).asText());
        assertEquals(200, http.get("/healthz").statusCode());
        assertEquals(200, sql("SELECT 1 AS one").statusCode());
    }

    /** With sql.max-concurrent statements running, one more is refused with 429 and Retry-After; nothing of it runs. */
    @Test
    void postSql_concurrencyCapFull_429NamingTheLimit() throws Exception {
        start("sql.max-concurrent", "1", "sql.timeout", "4s");
        CompletableFuture<HttpResponse<String>> running = CompletableFuture.supplyAsync(() -> {
            try {
                return sql("SELECT count(*) FROM range(100000000000) a(i) WHERE i * i % 7 = 13");
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        List<HttpResponse<String>> refused = new ArrayList<>();
        await().atMost(Duration.ofSeconds(3)).pollInterval(Duration.ofMillis(20)).until(() -> {
            HttpResponse<String> r = sql("SELECT 1 AS one");
            if (r.statusCode() == 429) {
                refused.add(r);
                return true;
            }
            return false;
        });
        HttpResponse<String> busy = refused.get(0);
        assertEquals("sql_busy", error(busy));
        assertTrue(busy.body().contains("sql.max-concurrent = 1"), busy.body());
        assertEquals("1", busy.headers().firstValue("Retry-After").orElse(""));
        assertEquals("sql_timeout", error(running.get()));
        assertEquals(200, sql("SELECT 1 AS one").statusCode(), "the permit is given back");
    }

    /** Values whose sum does not fit DECIMAL(38,9) get 422 sql_overflow for the tenant's SQL, never a 5xx; other tenants are served. */
    @Test
    void postSql_sumPastDecimal38_422Overflow() throws Exception {
        start();
        String huge = "9".repeat(29);
        for (int i = 1; i <= 2; i++) {
            assertEquals(202, http.post("/v1/events", "application/json", "{\"tenant\":\"acme\",\"id\":\"huge-" + i
                    + "\",\"type\":\"llm.request\",\"subject\":\"key-huge\",\"time\":\"" + now.minusSeconds(20)
                    + "\",\"data\":{\"input_tokens\":" + huge + "}}").statusCode());
        }
        assertEquals(202, http.post("/v1/events", "application/json", Events.array("globex", "g", 3, now, 10))
                .statusCode());
        // Both imported: the meter's sum over them no longer fits, so it refuses (422) instead of answering.
        String meter = "/v1/meters/input_tokens/query?tenant=acme&subject=key-huge&from=" + now.minus(Duration.ofDays(1))
                + "&to=" + now.plusSeconds(1);
        await().atMost(Duration.ofSeconds(20)).until(() -> http.get(meter).statusCode() == 422
                && worker.store().total("globex", "llm.request", "key-0", "$.input_tokens",
                        now.minus(Duration.ofDays(1)), now.plusSeconds(1)).events() > 0);
        HttpResponse<String> sandbox = sql("SELECT count(*) AS n FROM usage_events");
        assertEquals(422, sandbox.statusCode(), sandbox.body());
        assertEquals("sql_overflow", error(sandbox));
        assertTrue(sandbox.body().contains("DECIMAL(38,9)") && sandbox.body().contains("from/to"), sandbox.body());
        // A range without that hour builds, and the statement's own overflow is named too.
        HttpResponse<String> narrowed = http.post("/v1/sql?tenant=acme&from=" + now.plusSeconds(3600), "text/plain",
                "SELECT 9223372036854775807::BIGINT + 1 AS x");
        assertEquals(422, narrowed.statusCode(), narrowed.body());
        assertEquals("sql_overflow", error(narrowed));
        assertTrue(narrowed.body().contains("does not fit"), narrowed.body());
        assertEquals(200, http.post("/v1/sql?tenant=globex", "text/plain", "SELECT count(*) AS n FROM usage_events")
                .statusCode());
    }

    /** A JSON SQL request with a key twice is refused, as event bodies are. */
    @Test
    void postSql_duplicateJsonKey_refused() throws Exception {
        start();
        HttpResponse<String> r = http.post("/v1/sql", "application/json",
                "{\"tenant\":\"acme\",\"query\":\"SELECT 1\",\"query\":\"SELECT 2\"}");
        assertEquals(400, r.statusCode(), r.body());
        assertEquals("duplicate_key", error(r));
        assertTrue(r.body().contains("query"), r.body());
    }

    /** A sealed part damaged under the running worker: tenant acme's SQL and meter answers name no server path, and later SQL answers say they are partial. */
    @Test
    void damagedPart_answersOverHttpAreRedactedThenPartial() throws Exception {
        start();
        assertEquals(202, http.post("/v1/events", "application/json", Events.array("acme", "d", 20, now, 10))
                .statusCode());
        assertEquals(202, http.post("/v1/events", "application/json", Events.array("globex", "d", 20, now, 10))
                .statusCode());
        await().atMost(Duration.ofSeconds(20)).until(() -> worker.store().total("globex", "llm.request", "key-0",
                "$.input_tokens", now.minus(Duration.ofDays(1)), now.plusSeconds(1)).events() > 0
                && worker.store().total("acme", "llm.request", "key-0", "$.input_tokens", now.minus(Duration.ofDays(1)),
                        now.plusSeconds(1)).events() > 0);
        worker.store().sealNow();
        Path part;
        try (Stream<Path> s = Files.walk(tmp.resolve("data/archive"))) {
            part = s.filter(p -> p.toString().endsWith(".parquet")).findFirst().orElseThrow();
        }
        byte[] b = Files.readAllBytes(part);
        for (int i = b.length / 4; i < b.length / 2; i++) {
            b[i] ^= 0x5A;
        }
        Files.write(part, b);
        List<HttpResponse<String>> answers = new ArrayList<>();
        HttpResponse<String> first = sql("SELECT count(*) AS n FROM usage_events");
        answers.add(first);
        assertEquals(503, first.statusCode(), first.body());
        assertEquals("store_unavailable", error(first));
        assertTrue(first.body().contains("incident"), first.body());
        String range = "&from=" + now.minus(Duration.ofHours(2)) + "&to=" + now.plusSeconds(1);
        answers.add(http.get("/v1/meters/input_tokens/query?tenant=acme" + range));
        HttpResponse<String> after = sql("SELECT count(*) AS n FROM usage_events");
        answers.add(after);
        assertEquals(200, after.statusCode(), after.body());
        JsonNode j = JSON.readTree(after.body());
        assertTrue(j.path("partial").asBoolean(), after.body());
        for (HttpResponse<String> a : answers) {
            assertFalse(a.body().contains(tmp.toString()), "a server path: " + a.body());
        }
    }

    /** A worker whose active segment is damaged opens degraded: meter answers over HTTP are 200 with partial naming the segment, in JSON and table form. */
    @Test
    void getMeter_damagedActiveSegment_partialNamingTheSegment() throws Exception {
        start();
        assertEquals(202, http.post("/v1/events", "application/json", Events.array("acme", "d", 20, now, 10))
                .statusCode());
        await().atMost(Duration.ofSeconds(20)).until(() -> worker.store().total("acme", "llm.request", "key-0",
                "$.input_tokens", now.minus(Duration.ofDays(1)), now.plusSeconds(1)).events() > 0);
        worker.store().sealNow();
        worker.shutdown(Duration.ofSeconds(20));
        Path segment;
        try (Stream<Path> s = Files.list(tmp.resolve("data/segments"))) {
            segment = s.filter(p -> p.toString().endsWith(".duckdb")).max(Path::compareTo).orElseThrow();
        }
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(segment,
                java.nio.file.StandardOpenOption.WRITE)) {
            ch.truncate(ch.size() / 3);
        }
        start();
        String query = "/v1/meters/requests/query?tenant=acme&sum-subjects=true&from=" + now.minus(Duration.ofDays(1))
                + "&to=" + now.plusSeconds(1);
        HttpResponse<String> r = http.get(query);
        assertEquals(200, r.statusCode(), r.body());
        JsonNode j = JSON.readTree(r.body());
        assertEquals(20, j.get("rows").get(0).get("value").asInt(), "the sealed events answer: " + r.body());
        assertTrue(j.path("partial").asBoolean(), r.body());
        assertTrue(j.path("warnings").get(0).asText().contains(segment.getFileName().toString()), r.body());
        assertFalse(r.body().contains(tmp.toString()), "a server path: " + r.body());
        HttpResponse<String> table = http.get(query + "&format=table");
        assertTrue(table.body().contains("warning: partial: the active segment"), table.body());
    }
}
