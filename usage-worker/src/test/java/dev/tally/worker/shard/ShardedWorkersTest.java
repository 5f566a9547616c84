package dev.tally.worker.shard;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tally.store.RejectReason;
import dev.tally.store.Totals;
import dev.tally.store.dlq.DeadLetter;
import dev.tally.store.dlq.DeadLetterQueue;
import dev.tally.worker.UsageWorker;
import dev.tally.worker.config.ConfigException;
import dev.tally.worker.config.ConfigLoader;
import dev.tally.worker.daemon.Worker;
import dev.tally.worker.testing.Events;
import dev.tally.worker.testing.Http;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.math.BigDecimal;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two workers in this JVM, each with its own data directory, on loopback ports, splitting the
 * tenants by one shard map: worker {@code a} owns acme, worker {@code b} owns globex, and no one
 * owns initech.
 */
class ShardedWorkersTest {
    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;
    Path map;
    Path spool;
    Worker a;
    Worker b;
    Http httpA;
    Http httpB;
    String urlA;
    String urlB;
    final Instant now = Instant.now().truncatedTo(ChronoUnit.SECONDS);

    @BeforeEach
    void startBoth() throws IOException {
        spool = Files.createDirectories(tmp.resolve("spool-a"));
        // The map needs both addresses before either worker starts: take two free ports, and try
        // again in the unlikely case another process grabbed one in between.
        for (int attempt = 1; ; attempt++) {
            int portA = freePort();
            int portB = freePort();
            urlA = "http://127.0.0.1:" + portA;
            urlB = "http://127.0.0.1:" + portB;
            map = tmp.resolve("shards.properties");
            Files.writeString(map, "worker.a = " + urlA + "/\nworker.b = " + urlB + "\n"
                    + "tenant.acme = a\ntenant.globex = b\n");
            try {
                a = start("a", portA, "import.spool-dirs", spool.toString());
                b = start("b", portB);
                break;
            } catch (ConfigException e) {
                stop();
                if (attempt == 3) {
                    throw e;
                }
            }
        }
        httpA = new Http("127.0.0.1", a.httpPort().orElseThrow());
        httpB = new Http("127.0.0.1", b.httpPort().orElseThrow());
    }

    private Worker start(String id, int port, String... more) {
        Map<String, String> flags = new LinkedHashMap<>(flags(id));
        flags.put("http.port", Integer.toString(port));
        flags.put("import.interval", "100ms");
        for (int i = 0; i < more.length; i += 2) {
            flags.put(more[i], more[i + 1]);
        }
        Worker w = Worker.open(ConfigLoader.load(null, Map.of(), flags), Clock.systemUTC());
        try {
            w.start();
        } catch (RuntimeException e) {
            w.shutdown(Duration.ofSeconds(10));
            throw e;
        }
        return w;
    }

    private Map<String, String> flags(String id) {
        Map<String, String> flags = new LinkedHashMap<>();
        flags.put("data-dir", tmp.resolve("data-" + id).toString());
        flags.put("shard.id", id);
        flags.put("shard.map-file", map.toString());
        return flags;
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    @AfterEach
    void stop() {
        for (Worker w : new Worker[] {a, b}) {
            if (w != null) {
                w.shutdown(Duration.ofSeconds(20));
            }
        }
        a = null;
        b = null;
    }

    private Totals inputTokens(Worker w, String tenant) {
        return w.store().total(tenant, "llm.request", "key-1", "$.input_tokens", now.minus(Duration.ofDays(1)),
                now.plusSeconds(1));
    }

    /** An event post for a tenant another worker owns is refused whole with 421 naming the owner and its address; the owner takes it. */
    @Test
    void postEvents_foreignTenant_421WithOwnerAndNothingStored() throws Exception {
        HttpResponse<String> ok = httpA.post("/v1/events", "application/json",
                Events.json("acme", "a-1", "key-1", now.minusSeconds(10), 100));
        assertEquals(202, ok.statusCode(), ok.body());

        String mixed = "[" + Events.json("acme", "a-2", "key-1", now.minusSeconds(9), 7) + ","
                + Events.json("globex", "g-1", "key-1", now.minusSeconds(9), 50) + "]";
        HttpResponse<String> refused = httpA.post("/v1/events", "application/json", mixed);
        assertEquals(421, refused.statusCode(), refused.body());
        JsonNode body = JSON.readTree(refused.body());
        assertEquals("tenant_not_owned", body.get("error").asText());
        assertEquals("globex", body.get("tenant").asText());
        assertEquals("b", body.get("owner").asText());
        assertEquals(urlB, body.get("owner_url").asText());
        assertTrue(body.get("message").asText().contains("event 1: tenant 'globex' is owned by worker 'b' at " + urlB),
                body.toString());

        HttpResponse<String> unmapped = httpA.post("/v1/events", "application/json",
                Events.json("initech", "i-1", "key-1", now.minusSeconds(9), 1));
        assertEquals(421, unmapped.statusCode(), unmapped.body());
        JsonNode none = JSON.readTree(unmapped.body());
        assertTrue(none.get("owner").isNull() && none.get("owner_url").isNull(), none.toString());
        assertTrue(none.get("message").asText().contains("not in the shard map"), none.toString());

        assertEquals(202, httpB.post("/v1/events", "application/json", mixed.replace("\"acme\"", "\"globex\"")
                .replace("\"a-2\"", "\"g-2\"")).statusCode());
        await().atMost(Duration.ofSeconds(20)).until(() -> inputTokens(b, "globex").events() == 2);
        await().atMost(Duration.ofSeconds(20)).until(() -> inputTokens(a, "acme").events() == 1);
        assertEquals(0, inputTokens(a, "globex").events(), "nothing of the refused post was stored");
        assertEquals(0, new BigDecimal("100").compareTo(inputTokens(a, "acme").sum()));
        assertEquals(0, inputTokens(b, "acme").events());
    }

    /** Meter and SQL queries for a tenant owned elsewhere get 421 with the owner's address; the owner answers them. */
    @Test
    void queries_foreignTenant_421WithOwner() throws Exception {
        String query = "/v1/meters/input_tokens/query?sum-subjects=true&from=" + now.minus(Duration.ofDays(1))
                + "&to=" + now.plusSeconds(60) + "&tenant=";
        HttpResponse<String> meter = httpA.get(query + "globex");
        assertEquals(421, meter.statusCode(), meter.body());
        assertEquals(urlB, JSON.readTree(meter.body()).get("owner_url").asText());
        assertEquals(200, httpB.get(query + "globex").statusCode());

        HttpResponse<String> sql = httpB.post("/v1/sql?tenant=acme", "text/plain", "SELECT count(*) FROM usage_events");
        assertEquals(421, sql.statusCode(), sql.body());
        JsonNode body = JSON.readTree(sql.body());
        assertEquals("a", body.get("owner").asText());
        assertEquals(urlA, body.get("owner_url").asText(), "the map's trailing slash is dropped");
        assertEquals(200, httpA.post("/v1/sql?tenant=acme", "text/plain", "SELECT count(*) FROM usage_events")
                .statusCode());
    }

    /** Spool lines of a foreign tenant are dead-lettered with the owner named, the owned lines stored, and the position moves past both. */
    @Test
    void spoolImport_foreignTenant_deadLetteredWithOwner() throws Exception {
        Files.writeString(spool.resolve("partner.jsonl"), Events.json("acme", "s-1", "key-1", now.minusSeconds(8), 3)
                + "\n" + Events.json("globex", "s-2", "key-1", now.minusSeconds(7), 4) + "\n"
                + Events.json("acme", "s-3", "key-1", now.minusSeconds(6), 5) + "\n");
        await().atMost(Duration.ofSeconds(20)).until(() -> inputTokens(a, "acme").events() == 2);
        Path dataA = tmp.resolve("data-a");
        await().atMost(Duration.ofSeconds(20)).until(() -> DeadLetterQueue.open(dataA, true).size() == 1);
        DeadLetter d = DeadLetterQueue.open(dataA, true).list().get(0);
        assertEquals(RejectReason.TENANT_NOT_OWNED, d.reason());
        assertTrue(d.message().contains("owned by worker 'b' at " + urlB), d.message());
        assertEquals(0, new BigDecimal("8").compareTo(inputTokens(a, "acme").sum()));
        assertEquals(0, inputTokens(a, "globex").events());
    }

    /** The query and sql commands run next to worker a follow the shard map to worker b for b's tenant. */
    @Test
    void queryCommand_foreignTenant_followsShardMapToOwner() throws Exception {
        assertEquals(202, httpB.post("/v1/events", "application/json",
                Events.json("globex", "g-9", "key-1", now.minusSeconds(5), 42)).statusCode());
        await().atMost(Duration.ofSeconds(20)).until(() -> inputTokens(b, "globex").events() == 1);

        String[] common = {"--data-dir", tmp.resolve("data-a").toString(), "--set", "shard.id=a", "--set",
                "shard.map-file=" + map, "--set", "log.level=warn"};
        Run q = cli(concat(new String[] {"query", "--meter", "input_tokens", "--tenant", "globex", "--sum-subjects",
                "--from", now.minus(Duration.ofDays(1)).toString(), "--to", now.plusSeconds(60).toString(),
                "--format", "json"}, common));
        assertEquals(0, q.code(), q.err());
        assertEquals(0, new BigDecimal("42").compareTo(new BigDecimal(JSON.readTree(q.out()).get("rows").get(0)
                .get("value").asText())), q.out());

        Run s = cli(concat(new String[] {"sql", "--tenant", "globex", "--format", "csv",
                "SELECT count(*) AS n FROM usage_events"}, common));
        assertEquals(0, s.code(), s.err());
        assertEquals(List.of("n", "1"), s.out().lines().toList());

        Run none = cli(concat(new String[] {"sql", "--tenant", "initech", "SELECT 1"}, common));
        assertEquals(2, none.code(), none.out());
        assertTrue(none.err().contains("not in the shard map"), none.err());
    }

    record Run(int code, String out, String err) {
    }

    private static Run cli(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = UsageWorker.run(new PrintWriter(out, true), new PrintWriter(err, true), args);
        return new Run(code, out.toString(), err.toString());
    }

    private static String[] concat(String[] a, String[] b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
