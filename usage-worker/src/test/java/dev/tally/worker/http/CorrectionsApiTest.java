package dev.tally.worker.http;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tally.worker.config.ConfigLoader;
import dev.tally.worker.config.WorkerConfig;
import dev.tally.worker.daemon.Worker;
import dev.tally.worker.testing.Events;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code POST /v1/corrections} and its listing over a real worker: tenant isolation with tokens, and without. */
class CorrectionsApiTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final String ACME = "acme-token-0123456789abcdef";
    static final String GLOBEX = "globex-token-0123456789abcdef";
    static final HttpClient CLIENT = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    @TempDir
    Path tmp;
    Worker worker;
    HttpApi open;
    final Instant now = Instant.now().truncatedTo(ChronoUnit.SECONDS);

    @AfterEach
    void stop() {
        if (open != null) {
            open.close();
        }
        if (worker != null) {
            worker.shutdown(Duration.ofSeconds(20));
        }
    }

    /** One tenant's token can neither void nor list another tenant's events, whatever ids or tenant it names. */
    @Test
    void corrections_otherTenantsEvents_neverTouched() throws Exception {
        Path tokens = tmp.resolve("tokens.properties");
        Files.writeString(tokens, ACME + " = acme\n" + GLOBEX + " = globex\n");
        Map<String, String> flags = new LinkedHashMap<>();
        flags.put("data-dir", tmp.resolve("data").toString());
        flags.put("http.port", "0");
        flags.put("import.interval", "100ms");
        flags.put("http.tokens-file", tokens.toString());
        WorkerConfig config = ConfigLoader.load(null, Map.of(), flags);
        worker = Worker.open(config, Clock.systemUTC());
        worker.start();
        String base = "http://127.0.0.1:" + worker.httpPort().orElseThrow();

        assertEquals(202, send(base, "POST", "/v1/events", ACME, Events.json("acme", "same-id", "key-1",
                now.minusSeconds(30), 10)).statusCode());
        assertEquals(202, send(base, "POST", "/v1/events", GLOBEX, Events.json("globex", "same-id", "key-1",
                now.minusSeconds(30), 20)).statusCode());
        assertEquals(202, send(base, "POST", "/v1/events", GLOBEX, Events.json("globex", "g-2", "key-1",
                now.minusSeconds(20), 5)).statusCode());
        await().atMost(Duration.ofSeconds(20)).until(() -> total(base, GLOBEX, "globex") == 25 && total(base, ACME, "acme") == 10);

        // Naming the other tenant is refused before anything is read.
        HttpResponse<String> r = send(base, "POST", "/v1/corrections", ACME, "{\"correction_id\":\"x-1\",\"tenant\":"
                + "\"globex\",\"kind\":\"void\",\"ids\":[\"g-2\"]}");
        assertEquals(403, r.statusCode(), r.body());
        r = send(base, "POST", "/v1/corrections", ACME, "{\"correction_id\":\"x-2\",\"tenant\":\"acme\",\"kind\":"
                + "\"amend\",\"replacement\":" + Events.json("globex", "g-2", "key-1", now.minusSeconds(20), 0) + "}");
        assertEquals(403, r.statusCode(), r.body());
        r = send(base, "POST", "/v1/corrections", ACME, "{\"correction_id\":\"x-3\",\"tenant\":\"acme\",\"kind\":"
                + "\"void_range\",\"range\":{\"from\":\"" + now.minusSeconds(3600) + "\",\"to\":\"" + now.plusSeconds(60)
                + "\"},\"reason\":\"producer bug\"}");
        assertEquals(200, r.statusCode(), r.body());
        assertEquals(1, JSON.readTree(r.body()).get("events").asInt(), "acme's own event only: " + r.body());
        // An id of the other tenant is unknown to this one.
        r = send(base, "POST", "/v1/corrections", ACME, "{\"correction_id\":\"x-4\",\"tenant\":\"acme\",\"kind\":"
                + "\"void\",\"ids\":[\"g-2\"]}");
        assertEquals(200, r.statusCode(), r.body());
        JsonNode body = JSON.readTree(r.body());
        assertEquals(0, body.get("events").asInt());
        assertEquals("unknown_id", body.get("rejected").get(0).get("reason").asText());

        assertEquals(0, total(base, ACME, "acme"));
        assertEquals(25, total(base, GLOBEX, "globex"), "globex's events, one with the same id, are untouched");

        assertEquals(1, JSON.readTree(send(base, "GET", "/v1/corrections", ACME, null).body()).get("corrections").size());
        assertEquals(0, JSON.readTree(send(base, "GET", "/v1/corrections", GLOBEX, null).body()).get("corrections").size());
        assertEquals(403, send(base, "GET", "/v1/corrections?tenant=globex", ACME, null).statusCode());

        // Without tokens the tenant must be named.
        open = HttpApi.start(worker, HttpServerSettings.builder().host("127.0.0.1").port(0).build(), null);
        String anon = "http://127.0.0.1:" + open.port();
        assertEquals(400, send(anon, "GET", "/v1/corrections", null, null).statusCode());
        assertEquals(200, send(anon, "GET", "/v1/corrections?tenant=acme", null, null).statusCode());
    }

    /**
     * A void sent with {@code ?via=journal} right after the event it voids was acknowledged (and
     * perhaps not yet imported) is applied after it, in journal order; another tenant's token is
     * refused before anything is journaled.
     */
    @Test
    void corrections_viaJournal_appliedAfterTheEventsBeforeIt() throws Exception {
        Path tokens = tmp.resolve("tokens.properties");
        Files.writeString(tokens, ACME + " = acme\n" + GLOBEX + " = globex\n");
        Map<String, String> flags = new LinkedHashMap<>();
        flags.put("data-dir", tmp.resolve("data").toString());
        flags.put("http.port", "0");
        flags.put("import.interval", "1h"); // only the wake-up of each post imports
        flags.put("http.tokens-file", tokens.toString());
        worker = Worker.open(ConfigLoader.load(null, Map.of(), flags), Clock.systemUTC());
        worker.start();
        String base = "http://127.0.0.1:" + worker.httpPort().orElseThrow();

        assertEquals(202, send(base, "POST", "/v1/events", ACME, Events.json("acme", "j-1", "key-1",
                now.minusSeconds(30), 10)).statusCode());
        assertEquals(202, send(base, "POST", "/v1/events", ACME, Events.json("acme", "j-2", "key-1",
                now.minusSeconds(30), 7)).statusCode());
        HttpResponse<String> r = send(base, "POST", "/v1/corrections?via=journal", ACME, "{\"correction_id\":\"j-void\","
                + "\"tenant\":\"acme\",\"kind\":\"void\",\"ids\":[\"j-1\"],\"reason\":\"test key\"}");
        assertEquals(202, r.statusCode(), r.body());
        assertEquals(true, JSON.readTree(r.body()).get("journaled").asBoolean());
        assertEquals(403, send(base, "POST", "/v1/corrections?via=journal", ACME, "{\"correction_id\":\"j-x\","
                + "\"tenant\":\"globex\",\"kind\":\"void\",\"ids\":[\"j-2\"]}").statusCode());

        await().atMost(Duration.ofSeconds(20)).until(() -> JSON.readTree(send(base, "GET", "/v1/corrections", ACME,
                null).body()).get("corrections").size() == 1);
        assertEquals(7, total(base, ACME, "acme"));
        assertEquals(1, JSON.readTree(send(base, "GET", "/v1/corrections", ACME, null).body()).get("corrections").get(0)
                .get("events").asInt());
        assertEquals(0, worker.deadLetters().size());
    }

    private static long total(String base, String token, String tenant) throws Exception {
        HttpResponse<String> r = send(base, "GET", "/v1/meters/input_tokens/query?tenant=" + tenant
                + "&sum-subjects=true&from=" + Instant.now().minus(Duration.ofDays(1)).truncatedTo(ChronoUnit.SECONDS)
                + "&to=" + Instant.now().plusSeconds(3600).truncatedTo(ChronoUnit.SECONDS), token, null);
        JsonNode rows = JSON.readTree(r.body()).get("rows");
        long sum = 0;
        for (JsonNode row : rows) {
            sum += row.get("value").decimalValue().longValue();
        }
        return sum;
    }

    private static HttpResponse<String> send(String base, String method, String pathAndQuery, String token, String body)
            throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + pathAndQuery)).timeout(Duration.ofSeconds(60))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
                        : HttpRequest.BodyPublishers.ofString(body));
        if (token != null) {
            b.header("Authorization", "Bearer " + token);
        }
        if (body != null) {
            b.header("Content-Type", "application/json");
        }
        return CLIENT.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }
}
