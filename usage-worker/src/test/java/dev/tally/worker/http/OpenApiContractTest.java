package dev.tally.worker.http;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.networknt.schema.InputFormat;
import com.networknt.schema.Schema;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.SpecificationVersion;
import dev.tally.worker.config.ConfigLoader;
import dev.tally.worker.config.WorkerConfig;
import dev.tally.worker.daemon.Worker;
import dev.tally.worker.testing.Events;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Drives every endpoint of a real worker (store, journal, loops, tokens) into each status its
 * OpenAPI contract documents, and checks every answer against {@code /openapi.json}: the status is
 * documented for the operation, the Content-Type is one of the response's media types, a JSON body
 * validates against the response's schema (JSON Schema 2020-12) and an error code is one the
 * response lists in {@code x-error-codes}. Finally every documented (path, method, status) must
 * have been seen: a documented answer no request produces fails the test.
 */
class OpenApiContractTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final String ACME = "acme-token-0123456789abcdef";
    static final String GLOBEX = "globex-token-0123456789abcdef";
    /** A tenant the shard map gives to another worker: its requests get 421. */
    static final String INITECH = "initech-token-0123456789abcdef";
    static final HttpClient CLIENT = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    @TempDir
    Path tmp;
    Worker worker;
    HttpApi second;
    HttpApi open;
    final Instant now = Instant.now().truncatedTo(ChronoUnit.SECONDS);
    final Set<String> seen = new TreeSet<>();
    JsonNode contract;

    @AfterEach
    void stop() {
        if (second != null) {
            second.close();
        }
        if (open != null) {
            open.close();
        }
        if (worker != null) {
            worker.shutdown(Duration.ofSeconds(20));
        }
    }

    /** Every endpoint's success and documented errors validate against the contract served at /openapi.json. */
    @Test
    void everyEndpoint_realResponses_validateAgainstOpenApi() throws Exception {
        Path tokens = tmp.resolve("tokens.properties");
        Files.writeString(tokens, ACME + " = acme\n" + GLOBEX + " = globex\n" + INITECH + " = initech\n");
        Path shards = tmp.resolve("shards.properties");
        Files.writeString(shards, "worker.here = http://127.0.0.1:1\nworker.there = http://127.0.0.1:2\n"
                + "tenant.acme = here\ntenant.globex = here\ntenant.initech = there\n");
        Map<String, String> flags = new LinkedHashMap<>();
        flags.put("data-dir", tmp.resolve("data").toString());
        flags.put("http.port", "0");
        flags.put("import.interval", "100ms");
        flags.put("http.tokens-file", tokens.toString());
        flags.put("http.max-request-bytes", "4KiB");
        flags.put("http.request-timeout", "1s");
        // One SQL statement at a time, cancelled after 3 s: a slow one holds the only permit (429 sql_busy).
        flags.put("sql.max-concurrent", "1");
        flags.put("sql.timeout", "3s");
        // A spool file with a broken acme line and a line of no readable tenant, for GET /v1/dead-letters.
        Path spool = Files.createDirectories(tmp.resolve("spool"));
        Files.writeString(spool.resolve("partner.jsonl"), "{\"tenant\":\"acme\",\"id\":\"s-1\",\"type\":\"llm.request\""
                + ",\"subject\":\"k\",\"time\":\"" + now + "\",\"data\":{\"n\":NaN}}\nnot json at all\n");
        flags.put("import.spool-dirs", spool.toString());
        flags.put("shard.id", "here");
        flags.put("shard.map-file", shards.toString());
        WorkerConfig config = ConfigLoader.load(null, Map.of(), flags);
        worker = Worker.open(config, Clock.systemUTC());
        worker.start();
        String base = "http://127.0.0.1:" + worker.httpPort().orElseThrow();

        // The served document is the one in the repository.
        HttpResponse<String> doc = send(base, "GET", "/openapi.json", null, null, null);
        contract = JSON.readTree(doc.body());
        assertEquals("3.1.0", contract.get("openapi").asText());
        check("GET", "/openapi.json", doc);

        String event = Events.json("acme", "c-1", "key-1", now.minusSeconds(30), 10);
        String query = "/v1/meters/input_tokens/query?tenant=acme&from=" + now.minus(Duration.ofDays(1))
                + "&to=" + now.plusSeconds(60);

        // POST /v1/events
        check(base, "POST", "/v1/events", ACME, "application/json", event);
        await().atMost(Duration.ofSeconds(20)).until(() -> JSON.readTree(send(base, "GET", query + "&sum-subjects=true",
                ACME, null, null).body()).get("rows").size() == 1);
        check(base, "POST", "/v1/events", ACME, "application/json", "{{");
        check(base, "POST", "/v1/events", ACME, "application/json", "");
        check(base, "POST", "/v1/events", ACME, "application/json",
                "{\"tenant\":\"acme\",\"id\":\"x\",\"type\":\"llm.request\",\"time\":\"" + now + "\",\"data\":{}}");
        check(base, "POST", "/v1/events", null, "application/json", event);
        check(base, "POST", "/v1/events", "not-a-known-token-at-all", "application/json", event);
        check(base, "POST", "/v1/events", ACME, "application/json", Events.json("globex", "g-1", "k", now, 1));
        check(base, "POST", "/v1/events", INITECH, "application/json", Events.json("initech", "i-1", "k", now, 1));
        check(base, "GET", "/v1/events", ACME, null, null);
        check(base, "POST", "/v1/events", ACME, "application/json", "[" + (event + ",").repeat(40) + event + "]");
        check(base, "POST", "/v1/events", ACME, "application/x-evil", event);
        checkSlowBody(base, "/v1/events");

        // GET /v1/meters/{name}/query
        check(base, "GET", query, ACME, null, null);
        check(base, "GET", query + "&window=hour&group-by=model", ACME, null, null);
        check(base, "GET", query + "&format=csv", ACME, null, null);
        check(base, "GET", query + "&format=table", ACME, null, null);
        check(base, "GET", query + "&tz=Mars/Base", ACME, null, null);
        check(base, "GET", query + "&group-by=color", ACME, null, null);
        check(base, "GET", query, null, null, null);
        check(base, "GET", query.replace("tenant=acme", "tenant=globex"), ACME, null, null);
        check(base, "GET", query.replace("input_tokens", "nope"), ACME, null, null);
        check(base, "GET", query.replace("tenant=acme", "tenant=initech"), INITECH, null, null);
        check(base, "POST", query, ACME, "text/plain", "");

        // POST /v1/sql
        String sql = "/v1/sql?tenant=acme";
        check(base, "POST", sql, ACME, "text/plain", "SELECT subject, count(*) AS n FROM usage_events GROUP BY 1");
        check(base, "POST", "/v1/sql", ACME, "application/json",
                "{\"query\":\"SELECT count(*) AS n FROM usage_events\",\"format\":\"csv\"}");
        check(base, "POST", sql + "&format=table", ACME, "text/plain", "SELECT 1 AS one");
        // 422 sql_result_too_large: refused from the statement's text, before anything runs.
        check(base, "POST", sql, ACME, "text/plain", "SELECT repeat('x', 1000000000) AS s");
        check(base, "POST", sql, ACME, "text/plain", "DELETE FROM usage_events");
        check(base, "POST", sql, ACME, "text/plain", "SELECT nope FROM usage_events");
        check(base, "POST", sql, ACME, "text/plain", " ");
        check(base, "POST", sql + "&from=yesterday-ish", ACME, "text/plain", "SELECT 1");
        check(base, "POST", sql, ACME, "application/json", "{\"query\": 1}");
        check(base, "POST", sql, ACME, "application/json", "{nope");
        check(base, "POST", sql, null, "text/plain", "SELECT 1");
        check(base, "POST", sql, ACME, "text/plain", "SELECT * FROM read_csv('/etc/passwd')");
        check(base, "POST", "/v1/sql?tenant=globex", ACME, "text/plain", "SELECT 1");
        check(base, "POST", "/v1/sql?tenant=initech", INITECH, "text/plain", "SELECT 1");
        check(base, "GET", sql, ACME, null, null);
        check(base, "POST", sql, ACME, "text/plain", "SELECT 1 AS x -- " + "y".repeat(5000));
        checkSlowBody(base, sql);
        // 500 sql_failed: the engine fails on the statement's input (an 'Invalid Input Error', here malformed
        // JSON), which is none of the classes the sandbox maps to a 4xx; the answer has a class and an incident id.
        check(base, "POST", sql, ACME, "text/plain", "SELECT json_extract('{', '$') AS j");
        // 422 sql_overflow: the statement's arithmetic does not fit BIGINT.
        check(base, "POST", sql, ACME, "text/plain", "SELECT 9223372036854775807::BIGINT + 1 AS x");
        checkBusy(base, sql);

        // POST and GET /v1/corrections: an unknown id is reported, an amend applies, a closed period refuses,
        // and a token never reaches another tenant's events.
        String corrections = "/v1/corrections";
        check(base, "POST", corrections, ACME, "application/json",
                "{\"correction_id\":\"k-1\",\"tenant\":\"acme\",\"kind\":\"void\",\"ids\":[\"nope\"],"
                        + "\"actor\":\"ops\",\"reason\":\"test keys\"}");
        check(base, "POST", corrections, ACME, "application/json",
                "{\"correction_id\":\"k-2\",\"tenant\":\"acme\",\"kind\":\"amend\",\"replacement\":"
                        + Events.json("acme", "c-1", "key-1", now.minusSeconds(30), 7) + "}");
        check(base, "POST", corrections, ACME, "application/json", "{\"correction_id\":\"k-3\",\"tenant\":\"acme\","
                + "\"kind\":\"void\"}");
        check(base, "POST", corrections, ACME, "application/json", "{{");
        check(base, "POST", corrections, null, "application/json", "{}");
        check(base, "POST", corrections, ACME, "application/json",
                "{\"correction_id\":\"k-4\",\"tenant\":\"globex\",\"kind\":\"void\",\"ids\":[\"g-1\"]}");
        worker.store().closePeriod("acme", java.time.YearMonth.from(now.atZone(java.time.ZoneOffset.UTC)),
                java.time.ZoneOffset.UTC, "test");
        check(base, "POST", corrections, ACME, "application/json",
                "{\"correction_id\":\"k-5\",\"tenant\":\"acme\",\"kind\":\"void\",\"ids\":[\"c-1\"]}");
        check(base, "POST", corrections + "?via=journal", ACME, "application/json",
                "{\"correction_id\":\"k-6\",\"tenant\":\"acme\",\"kind\":\"void\",\"ids\":[\"c-1\"],\"force\":true}");
        check(base, "POST", corrections + "?via=carrier-pigeon", ACME, "application/json", "{}");
        check(base, "GET", corrections + "?tenant=acme", ACME, null, null);
        check(base, "GET", corrections, ACME, null, null);
        check(base, "GET", corrections, null, null, null);
        check(base, "GET", corrections + "?tenant=globex", ACME, null, null);

        // Two values at the top of DECIMAL(38,9): their sum does not fit, so the meter query cannot answer (422).
        // After this the tenant's SQL sandbox cannot be built either (its hourly rollup sum overflows): 422 sql_overflow.
        String huge = "9".repeat(29);
        for (int i = 1; i <= 2; i++) {
            check(base, "POST", "/v1/events", ACME, "application/json", "{\"tenant\":\"acme\",\"id\":\"huge-" + i
                    + "\",\"type\":\"llm.request\",\"subject\":\"key-huge\",\"time\":\"" + now.minusSeconds(20)
                    + "\",\"data\":{\"input_tokens\":" + huge + "}}");
        }
        String hugeQuery = query + "&subject=key-huge";
        await().atMost(Duration.ofSeconds(20)).until(() -> send(base, "GET", hugeQuery, ACME, null, null)
                .statusCode() != 200);
        check(base, "GET", hugeQuery, ACME, null, null);
        check(base, "POST", sql, ACME, "text/plain", "SELECT count(*) AS n FROM usage_events");

        // GET /v1/dead-letters: the acme line only (the other names no tenant), with its example.
        await().atMost(Duration.ofSeconds(20)).until(() -> JSON.readTree(send(base, "GET", "/v1/dead-letters", ACME,
                null, null).body()).get("queued").asInt() == 1);
        check(base, "GET", "/v1/dead-letters", ACME, null, null);
        check(base, "GET", "/v1/dead-letters?tenant=acme&examples=0", ACME, null, null);
        check(base, "GET", "/v1/dead-letters?examples=99", ACME, null, null);
        check(base, "GET", "/v1/dead-letters", null, null, null);
        check(base, "GET", "/v1/dead-letters?tenant=acme", GLOBEX, null, null);

        // The console's page and files
        for (String f : List.of("console.js", "console.css", "favicon.svg", "nope.js")) {
            check(base, "GET", "/console/" + f, null, null, null);
        }

        // GET /v1/segments, /healthz, /readyz, /metrics, /openapi.json, /
        check(base, "GET", "/v1/segments", ACME, null, null);
        check(base, "GET", "/v1/segments", null, null, null);
        for (String p : List.of("/v1/segments", "/v1/dead-letters", "/healthz", "/readyz", "/metrics", "/openapi.json",
                "/", "/console/console.js")) {
            check(base, "GET", p, ACME, null, null);
            check(base, "DELETE", p, ACME, null, null);
        }

        // A second API on the same worker that refuses new events, as during a stop: 503 for posts and /readyz.
        HttpServerSettings settings = HttpServerSettings.builder().host("127.0.0.1").port(0).build();
        second = HttpApi.start(worker, settings, TokenAuth.load(tokens));
        second.refuseEvents();
        String stopping = "http://127.0.0.1:" + second.port();
        check(stopping, "POST", "/v1/events", ACME, "application/json", event);
        check(stopping, "GET", "/readyz", null, null, null);
        // Without a tokens file the tenant must be named: GET /v1/corrections without one is 400.
        open = HttpApi.start(worker, settings, null);
        check("http://127.0.0.1:" + open.port(), "GET", corrections, null, null, null);
        // With the store closed underneath it, reads get 503 store_unavailable.
        worker.shutdown(Duration.ofSeconds(20));
        check(stopping, "GET", "/v1/segments", ACME, null, null);
        check(stopping, "GET", query, ACME, null, null);
        check(stopping, "POST", sql, ACME, "text/plain", "SELECT 1");
        // A correction sent through the journal of a stopped worker: 503 shutting_down, nothing journaled.
        check(stopping, "POST", corrections + "?via=journal", ACME, "application/json",
                "{\"correction_id\":\"k-7\",\"tenant\":\"acme\",\"kind\":\"void\",\"ids\":[\"c-2\"]}");

        List<String> missing = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> paths = contract.get("paths").fields(); paths.hasNext(); ) {
            Map.Entry<String, JsonNode> path = paths.next();
            for (Iterator<Map.Entry<String, JsonNode>> ops = path.getValue().fields(); ops.hasNext(); ) {
                Map.Entry<String, JsonNode> op = ops.next();
                for (Iterator<String> codes = op.getValue().get("responses").fieldNames(); codes.hasNext(); ) {
                    String key = op.getKey() + " " + path.getKey() + " " + codes.next();
                    if (!seen.contains(key)) {
                        missing.add(key);
                    }
                }
            }
        }
        System.out.println("OpenAPI contract: " + seen.size() + " documented (operation, status) pairs answered and "
                + "validated");
        assertTrue(missing.isEmpty(), "documented but never answered: " + missing);
    }

    private void check(String base, String method, String pathAndQuery, String token, String contentType,
            String body) throws Exception {
        check(method, pathAndQuery, send(base, method, pathAndQuery, token, contentType, body));
    }

    private static HttpResponse<String> send(String base, String method, String pathAndQuery, String token,
            String contentType, String body) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + pathAndQuery)).timeout(Duration.ofSeconds(60))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofString(body));
        if (token != null) {
            b.header("Authorization", "Bearer " + token);
        }
        if (contentType != null) {
            b.header("Content-Type", contentType);
        }
        return CLIENT.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    private void check(String method, String pathAndQuery, HttpResponse<String> r) throws Exception {
        check(method, pathAndQuery, r.statusCode(), r.headers().firstValue("Content-Type").orElse(""), r.body());
    }

    /** Checks one answer against the contract and records its (method, path, status). */
    private void check(String method, String pathAndQuery, int status, String contentType, String body)
            throws Exception {
        String path = pathAndQuery.split("\\?", 2)[0];
        String what = method + " " + pathAndQuery + " -> " + status + " " + contentType + " "
                + (body.length() > 300 ? body.substring(0, 300) + "..." : body);
        String template = template(path);
        JsonNode operation = contract.get("paths").get(template).get(method.toLowerCase(Locale.ROOT));
        if (operation == null) {
            // A method the path does not document: it must be the documented 405 of the path's operation.
            assertEquals(405, status, what);
            operation = contract.get("paths").get(template).elements().next();
            method = contract.get("paths").get(template).fieldNames().next();
        }
        JsonNode response = operation.get("responses").get(Integer.toString(status));
        if (response == null) {
            fail("status not documented: " + what);
        }
        seen.add(method.toLowerCase(Locale.ROOT) + " " + template + " " + status);
        String mediaType = contentType.split(";", 2)[0].trim().toLowerCase(Locale.ROOT);
        JsonNode media = response.path("content").get(mediaType);
        if (media == null) {
            fail("Content-Type " + mediaType + " not documented for this response: " + what);
        }
        if (!mediaType.equals("application/json")) {
            return;
        }
        JsonNode schema = resolve(media.get("schema"));
        ((ObjectNode) schema).put("$schema", "https://json-schema.org/draft/2020-12/schema");
        Schema validator = SchemaRegistry.withDefaultDialect(SpecificationVersion.DRAFT_2020_12)
                .getSchema(JSON.writeValueAsString(schema), InputFormat.JSON);
        List<com.networknt.schema.Error> errors = validator.validate(body, InputFormat.JSON);
        assertTrue(errors.isEmpty(), "does not validate: " + errors + ": " + what);
        JsonNode codes = response.get("x-error-codes");
        if (codes != null) {
            String code = JSON.readTree(body).get("error").asText();
            List<String> allowed = new ArrayList<>();
            codes.forEach(c -> allowed.add(c.asText()));
            assertTrue(allowed.contains(code), "error code " + code + " not in " + allowed + ": " + what);
        }
    }

    /** The contract's path template a concrete path matches. */
    private String template(String path) {
        for (Iterator<String> it = contract.get("paths").fieldNames(); it.hasNext(); ) {
            String t = it.next();
            if (Pattern.matches(t.replaceAll("\\{[^/]+}", "[^/]+"), path)) {
                return t;
            }
        }
        throw new AssertionError("no documented path matches " + path);
    }

    /** A copy of {@code node} with every {@code $ref} to a component schema replaced by that schema. */
    private JsonNode resolve(JsonNode node) {
        if (node.isObject()) {
            JsonNode ref = node.get("$ref");
            if (ref != null) {
                String name = ref.asText().substring("#/components/schemas/".length());
                return resolve(contract.get("components").get("schemas").get(name));
            }
            ObjectNode out = JSON.createObjectNode();
            node.fields().forEachRemaining(e -> out.set(e.getKey(), resolve(e.getValue())));
            return out;
        }
        if (node.isArray()) {
            var out = JSON.createArrayNode();
            node.forEach(n -> out.add(resolve(n)));
            return out;
        }
        return node;
    }

    /**
     * 429 sql_busy: a statement that runs until sql.timeout cancels it holds the only permit, and a
     * second statement sent meanwhile is refused. The slow one's end (422 sql_timeout) is checked too.
     * A poll that lands before the slow one took its permit just runs, so the next poll retries; a
     * round whose slow statement ended before any refusal is run again.
     */
    private void checkBusy(String base, String sql) throws Exception {
        for (int round = 0; round < 5; round++) {
            java.util.concurrent.CompletableFuture<HttpResponse<String>> slow =
                    java.util.concurrent.CompletableFuture.supplyAsync(() -> {
                        try {
                            return send(base, "POST", sql, ACME, "text/plain",
                                    "SELECT count(*) AS n FROM range(100000000000) a(i) WHERE i * i % 7 = 13");
                        } catch (Exception e) {
                            throw new IllegalStateException(e);
                        }
                    });
            List<HttpResponse<String>> busy = new ArrayList<>();
            await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(20)).until(() -> {
                HttpResponse<String> r = send(base, "POST", sql, ACME, "text/plain", "SELECT 1 AS one");
                if (r.statusCode() == 429) {
                    busy.add(r);
                }
                return !busy.isEmpty() || slow.isDone();
            });
            HttpResponse<String> ended = slow.get(60, java.util.concurrent.TimeUnit.SECONDS);
            check("POST", sql, ended);
            if (ended.statusCode() == 429) {
                busy.add(ended); // a poll held the permit when the slow one arrived
            }
            if (!busy.isEmpty()) {
                assertEquals("1", busy.get(0).headers().firstValue("Retry-After").orElse(""), busy.get(0).body());
                check("POST", sql, busy.get(0));
                return;
            }
        }
        fail("no statement was refused with 429 while a slow one held the only SQL permit, in 5 rounds");
    }

    /** Headers declaring a body, one byte of it, then nothing: the worker answers 408 after http.request-timeout. */
    private void checkSlowBody(String base, String pathAndQuery) throws Exception {
        int port = URI.create(base).getPort();
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(10_000);
            s.getOutputStream().write(("POST " + pathAndQuery + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
                    + ACME + "\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n[")
                    .getBytes(StandardCharsets.US_ASCII));
            String raw = readToClose(s.getInputStream());
            int headerEnd = raw.indexOf("\r\n\r\n");
            String head = raw.substring(0, headerEnd);
            int status = Integer.parseInt(head.substring(9, 12));
            String contentType = head.lines().filter(l -> l.toLowerCase(Locale.ROOT).startsWith("content-type:"))
                    .map(l -> l.substring(13).trim()).findFirst().orElse("");
            check("POST", pathAndQuery, status, contentType, raw.substring(headerEnd + 4));
        }
    }

    private static String readToClose(InputStream in) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        in.transferTo(out);
        return out.toString(StandardCharsets.UTF_8);
    }
}
