package dev.tally.worker.daemon;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tally.store.Totals;
import dev.tally.store.journal.Journal;
import dev.tally.store.journal.JournalConfig;
import dev.tally.store.testing.TestEvents;
import dev.tally.worker.testing.Events;
import dev.tally.worker.testing.PromText;
import java.math.BigDecimal;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The HTTP API against a real worker (store, journal, loops) in this JVM. */
class WorkerApiTest extends InProcessWorkerTest {
    static final String TOKEN_ACME = "acme-token-0123456789abcdef";
    static final String TOKEN_GLOBEX = "globex-token-0123456789abcdef";

    private Totals inputTokens(String tenant, String subject) {
        return worker.store().total(tenant, "llm.request", subject, "$.input_tokens", now.minus(Duration.ofDays(1)),
                now.plusSeconds(1));
    }

    /** Valid events are acknowledged once they are in the journal, the bad one is reported by index and reason, and the import stores the rest exactly once. */
    @Test
    void postEvents_mixedBatch_acknowledgesDurableAndReportsRejections() throws Exception {
        start();
        String bad = "{\"tenant\":\"acme\",\"id\":\"bad-1\",\"type\":\"llm.request\",\"time\":\""
                + now.minusSeconds(5) + "\",\"data\":{\"input_tokens\":1}}";
        String body = "[" + Events.json("acme", "a-1", "key-1", now.minusSeconds(10), 100) + "," + bad + ","
                + Events.json("acme", "a-2", "key-1", now.minusSeconds(9), 50) + ","
                + Events.json("acme", "a-1", "key-1", now.minusSeconds(10), 100) + "]";
        HttpResponse<String> r = http.post("/v1/events", "application/json", body);
        assertEquals(202, r.statusCode(), r.body());
        assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith("application/json"));
        JsonNode j = JSON.readTree(r.body());
        assertEquals(3, j.get("accepted").asInt());
        assertEquals(1, j.get("rejected").size());
        JsonNode rej = j.get("rejected").get(0);
        assertEquals(1, rej.get("index").asInt());
        assertEquals("bad-1", rej.get("id").asText());
        assertEquals("missing_field", rej.get("reason").asText());
        assertTrue(rej.get("message").asText().contains("subject"));
        // Acknowledged means durable: the records are in the journal file already.
        String journal = Files.readString(tmp.resolve("data/journal/journal.wal"));
        assertTrue(journal.contains("\"a-2\""), "acknowledged events must be in the journal");
        await().atMost(Duration.ofSeconds(20)).until(() -> inputTokens("acme", "key-1").events() == 2);
        assertEquals(0, new BigDecimal("150").compareTo(inputTokens("acme", "key-1").sum()));
    }

    /** A CloudEvents batch is accepted and its tenant extension and subject are stored. */
    @Test
    void postEvents_cloudEventsBatch_isStored() throws Exception {
        start();
        String ce = "{\"specversion\":\"1.0\",\"id\":\"ce-%d\",\"source\":\"/gw\",\"type\":\"llm.request\","
                + "\"subject\":\"key-ce\",\"tenant\":\"acme\",\"time\":\"" + now.minusSeconds(3)
                + "\",\"data\":{\"input_tokens\":7}}";
        HttpResponse<String> r = http.post("/v1/events", "application/cloudevents-batch+json",
                "[" + String.format(ce, 1) + "," + String.format(ce, 2) + "]");
        assertEquals(202, r.statusCode(), r.body());
        await().atMost(Duration.ofSeconds(20)).until(() -> inputTokens("acme", "key-ce").events() == 2);
    }

    /** Bodies that cannot be read, wrong methods and unknown paths get JSON errors with the right status. */
    @Test
    void errors_areJsonWithStatusCodes() throws Exception {
        start("http.max-request-bytes", "1KiB");
        HttpResponse<String> notJson = http.post("/v1/events", "application/json", "[{\"tenant\":");
        assertEquals(400, notJson.statusCode());
        assertEquals("invalid_json", JSON.readTree(notJson.body()).get("error").asText());
        HttpResponse<String> allBad = http.post("/v1/events", "application/json", "{\"tenant\":\"acme\"}");
        assertEquals(400, allBad.statusCode());
        assertEquals("no_valid_events", JSON.readTree(allBad.body()).get("error").asText());
        HttpResponse<String> tooBig = http.post("/v1/events", "application/json", "[" + "1,".repeat(600) + "1]");
        assertEquals(413, tooBig.statusCode());
        JsonNode big = JSON.readTree(tooBig.body());
        assertEquals("request_too_large", big.get("error").asText());
        assertTrue(big.get("message").asText().contains("http.max-request-bytes = 1024"));
        HttpResponse<String> method = http.get("/v1/events");
        assertEquals(405, method.statusCode());
        assertEquals("POST", method.headers().firstValue("Allow").orElse(""));
        HttpResponse<String> missing = http.get("/v2/nothing");
        assertEquals(404, missing.statusCode());
        assertEquals("not_found", JSON.readTree(missing.body()).get("error").asText());
        HttpResponse<String> media = http.post("/v1/events", "text/csv", "a,b");
        assertEquals(415, media.statusCode());
    }

    /** With a tokens file, a token writes only its own tenant: 401 without or with an unknown token, 403 for another tenant. */
    @Test
    void auth_tokensAreScopedToTheirTenant() throws Exception {
        Path tokens = tmp.resolve("tokens.properties");
        Files.writeString(tokens, TOKEN_ACME + " = acme\n" + TOKEN_GLOBEX + " = globex\n");
        start("http.tokens-file", tokens.toString());
        String body = Events.array("acme", "auth", 2, now, 10);
        HttpResponse<String> none = http.post("/v1/events", "application/json", body);
        assertEquals(401, none.statusCode());
        assertEquals("unauthorized", JSON.readTree(none.body()).get("error").asText());
        assertTrue(none.headers().firstValue("WWW-Authenticate").orElse("").startsWith("Bearer"));
        HttpResponse<String> unknown = http.post("/v1/events", "application/json", body, "Authorization",
                "Bearer not-a-known-token-at-all");
        assertEquals(401, unknown.statusCode());
        assertEquals("invalid_token", JSON.readTree(unknown.body()).get("error").asText());
        HttpResponse<String> other = http.post("/v1/events", "application/json", body, "Authorization",
                "Bearer " + TOKEN_GLOBEX);
        assertEquals(403, other.statusCode());
        assertEquals("forbidden", JSON.readTree(other.body()).get("error").asText());
        HttpResponse<String> own = http.post("/v1/events", "application/json", body, "Authorization",
                "Bearer " + TOKEN_ACME);
        assertEquals(202, own.statusCode(), own.body());
        // Reads are scoped the same way: the token's tenant by default, never another one.
        await().atMost(Duration.ofSeconds(20)).until(() -> inputTokens("acme", "key-0").events() == 1);
        HttpResponse<String> mine = http.get("/v1/meters/requests/query?sum-subjects=true", "Authorization",
                "Bearer " + TOKEN_ACME);
        assertEquals(200, mine.statusCode(), mine.body());
        assertEquals("acme", JSON.readTree(mine.body()).get("tenant").asText());
        HttpResponse<String> theirs = http.get("/v1/meters/requests/query?tenant=acme", "Authorization",
                "Bearer " + TOKEN_GLOBEX);
        assertEquals(403, theirs.statusCode());
        HttpResponse<String> sql = http.post("/v1/sql?tenant=acme", "text/plain", "SELECT 1 AS one",
                "Authorization", "Bearer " + TOKEN_GLOBEX);
        assertEquals(403, sql.statusCode());
        assertEquals(401, http.get("/v1/segments").statusCode());
        // Health and metrics stay open for probes and scrapers.
        assertEquals(200, http.get("/healthz").statusCode());
        assertEquals(200, http.get("/metrics").statusCode());
    }

    /** Meter queries and SQL over HTTP answer exactly for the tenant asked, in JSON, CSV or table form, and refuse bad input with JSON errors. */
    @Test
    void meterQueryAndSql_overHttp_answerExactly() throws Exception {
        start();
        assertEquals(202, http.post("/v1/events", "application/json", Events.array("acme", "q", 6, now, 100))
                .statusCode());
        assertEquals(202, http.post("/v1/events", "application/json", Events.array("globex", "q", 2, now, 7))
                .statusCode());
        await().atMost(Duration.ofSeconds(20)).until(() -> inputTokens("acme", "key-0").events() == 2
                && inputTokens("globex", "key-0").events() == 1);
        String range = "&from=" + now.minus(Duration.ofHours(1)) + "&to=" + now.plusSeconds(1);
        HttpResponse<String> q = http.get("/v1/meters/input_tokens/query?tenant=acme&sum-subjects=true" + range);
        assertEquals(200, q.statusCode(), q.body());
        JsonNode rows = JSON.readTree(q.body()).get("rows");
        assertEquals(1, rows.size());
        assertEquals("600", rows.get(0).get("value").asText());
        assertEquals(6, rows.get(0).get("events").asInt());
        HttpResponse<String> csv = http.get("/v1/meters/requests/query?tenant=acme&group-by=model&format=csv" + range);
        assertTrue(csv.headers().firstValue("Content-Type").orElse("").startsWith("text/csv"), csv.body());
        assertTrue(csv.body().startsWith("window_start,window_end,subject,model,requests,events\n"), csv.body());
        HttpResponse<String> unknown = http.get("/v1/meters/nope/query?tenant=acme");
        assertEquals(404, unknown.statusCode());
        assertEquals("unknown_meter", JSON.readTree(unknown.body()).get("error").asText());
        HttpResponse<String> badTz = http.get("/v1/meters/requests/query?tenant=acme&tz=Mars/Base");
        assertEquals(400, badTz.statusCode());
        assertEquals("invalid_parameter", JSON.readTree(badTz.body()).get("error").asText());
        HttpResponse<String> noTenant = http.get("/v1/meters/requests/query");
        assertEquals(400, noTenant.statusCode());

        HttpResponse<String> sql = http.post("/v1/sql", "application/json",
                "{\"tenant\":\"globex\",\"query\":\"SELECT count(*) AS n FROM usage_events\"}");
        assertEquals(200, sql.statusCode(), sql.body());
        assertEquals(2, JSON.readTree(sql.body()).get("rows").get(0).get(0).asInt());
        HttpResponse<String> table = http.post("/v1/sql?tenant=acme&format=table", "text/plain",
                "SELECT count(*) AS n FROM usage_events");
        assertTrue(table.body().contains("(1 row)"), table.body());
        HttpResponse<String> write = http.post("/v1/sql?tenant=acme", "text/plain", "DELETE FROM usage_events");
        assertEquals(400, write.statusCode());
        assertEquals("sql_rejected", JSON.readTree(write.body()).get("error").asText());
        HttpResponse<String> file = http.post("/v1/sql?tenant=acme", "text/plain",
                "SELECT * FROM read_csv('/etc/hostname')");
        assertEquals(403, file.statusCode(), file.body());
        assertEquals("sql_denied", JSON.readTree(file.body()).get("error").asText());
    }

    /** Journal bytes not yet imported show in tally_import_lag_bytes at once, not only when the next import pass ends. */
    @Test
    void metrics_importLagBytes_measuredNowNotAtTheLastPass() throws Exception {
        start("import.interval", "1h");
        await().atMost(Duration.ofSeconds(20)).until(() -> PromText.parse(http.get("/metrics").body())
                .value("tally_import_last_success_timestamp_seconds") > 0);
        // The first (empty) pass is done and the next is an hour away. Another writer of the shared
        // journal (not the HTTP API, whose accepted ingest wakes the import loop) appends: these
        // bytes wait in the journal until a scrape measures them.
        try (Journal journal = Journal.open(JournalConfig.builder(tmp.resolve("data")).build())) {
            journal.append(TestEvents.batch("acme", "lag", 5, 1, now, Duration.ofMinutes(1), 1L));
        }
        PromText m = PromText.parse(http.get("/metrics").body());
        assertTrue(m.value("tally_import_lag_bytes") > 0, "lag while the journal holds unimported bytes");
    }

    /** /healthz and /readyz answer 200 while running; after shutdown the store is closed, unlocked and worker.json is gone. */
    @Test
    void healthAndReadiness_reflectTheWorker() throws Exception {
        start();
        assertEquals(200, http.get("/healthz").statusCode());
        HttpResponse<String> ready = http.get("/readyz");
        assertEquals(200, ready.statusCode(), ready.body());
        assertEquals("ready", JSON.readTree(ready.body()).get("status").asText());
        JsonNode runtime = JSON.readTree(tmp.resolve("data").resolve(RuntimeFile.NAME).toFile());
        assertEquals("http://127.0.0.1:" + worker.httpPort().orElseThrow(), runtime.get("url").asText());
        assertTrue(worker.shutdown(Duration.ofSeconds(20)));
        // (Probing the lock while this JVM holds it would release it: POSIX locks belong to the process.)
        assertFalse(StoreOpener.isLocked(tmp.resolve("data")));
        assertFalse(Files.exists(tmp.resolve("data").resolve(RuntimeFile.NAME)));
        assertTrue(worker.notReadyReasons().get(0).contains("closed"), worker.notReadyReasons().toString());
    }

    /** /metrics is valid Prometheus text with the store, import, dead-letter, tier and loop families. */
    @Test
    void metrics_isStrictPrometheusTextWithTheExpectedFamilies() throws Exception {
        start();
        http.post("/v1/events", "application/json", Events.array("acme", "m", 5, now, 10));
        http.post("/v1/events", "application/json", Events.array("acme", "m", 5, now, 10)); // all duplicates
        await().atMost(Duration.ofSeconds(20)).until(() -> PromText.parse(http.get("/metrics").body())
                .value("tally_events_duplicate_total") == 5);
        HttpResponse<String> r = http.get("/metrics");
        assertEquals(200, r.statusCode());
        assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith("text/plain; version=0.0.4"));
        PromText m = PromText.parse(r.body());
        assertEquals(5, m.value("tally_events_accepted_total"));
        assertEquals(10, m.value("tally_http_events_journaled_total"));
        assertEquals(0, m.value("tally_events_rejected_total", "stage", "import", "reason", "time_too_old"));
        assertEquals(0, m.value("tally_dead_letters", "reason", "invalid_json"));
        assertEquals(1, m.value("tally_segments", "tier", "active"));
        assertEquals(5, m.value("tally_segment_rows", "tier", "active"));
        assertEquals(0, m.value("tally_import_lag_bytes"));
        assertEquals(0, m.value("tally_loop_failures_total", "loop", "import"));
        assertEquals(1, m.value("tally_loop_up", "loop", "maintenance"));
        assertEquals(1, m.value("tally_ready"));
        for (String f : new String[] {"tally_seal_seconds_total", "tally_retention_seconds_total",
                "tally_write_gate_wait_seconds_total", "tally_import_lag_seconds", "tally_http_requests_total"}) {
            assertTrue(m.type(f) != null, f);
        }
        assertEquals("counter", m.type("tally_events_accepted_total"));
        assertEquals("gauge", m.type("tally_import_lag_bytes"));
    }
}
