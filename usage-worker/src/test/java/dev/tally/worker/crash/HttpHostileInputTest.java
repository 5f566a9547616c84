package dev.tally.worker.crash;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tally.worker.testing.Events;
import dev.tally.worker.testing.Http;
import dev.tally.worker.testing.PromText;
import dev.tally.worker.testing.WorkerProcess;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A hostile corpus, generated here, POSTed to a running {@code usage-worker run} (a child JVM with
 * a 384 MiB heap): each hostile event sits between two valid ones and must get its own reason
 * while the valid ones are accepted; bodies that are not JSON at all get a clear 4xx; a body
 * larger than http.max-request-bytes is refused with 413 without the worker buffering it; names
 * with path tricks never become files. After every request the worker must still be ready.
 * Slow and flooding clients must not keep {@code /healthz} from answering within 1 s.
 */
class HttpHostileInputTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final HttpClient CLIENT = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    static final Set<String> REASONS = Set.of("missing_field", "invalid_field", "too_long", "time_too_old",
            "time_in_future", "invalid_json", "data_not_object", "duplicate_key", "nesting_too_deep",
            "non_finite_number", "number_out_of_range", "malformed_utf8");
    static final long MAX_REQUEST = 1L << 20;

    @TempDir
    Path tmp;

    final Instant now = Instant.now().truncatedTo(ChronoUnit.SECONDS);
    int validSent;
    int seq;

    private String valid() {
        validSent++;
        return Events.json("acme", "ok-" + seq++, "key-1", now.minusSeconds(30), 1);
    }

    /** An event line with {@code field} replaced by the raw JSON {@code rawValue}. */
    private String with(String field, String rawValue) {
        Map<String, String> f = new LinkedHashMap<>();
        f.put("tenant", "\"acme\"");
        f.put("id", "\"hostile-" + seq++ + "\"");
        f.put("type", "\"llm.request\"");
        f.put("subject", "\"key-1\"");
        f.put("time", "\"" + now.minusSeconds(30) + "\"");
        f.put("data", "{\"input_tokens\":1}");
        f.put(field, rawValue);
        StringBuilder b = new StringBuilder("{");
        f.forEach((k, v) -> b.append('"').append(k).append("\":").append(v).append(','));
        b.setLength(b.length() - 1);
        return b.append('}').toString();
    }

    /** The corpus of single hostile events: name -> the event's bytes (one NDJSON line). */
    private Map<String, byte[]> corpus() {
        Map<String, byte[]> c = new LinkedHashMap<>();
        // Malformed UTF-8
        c.put("invalid continuation byte", withBytes("subject", "\"k", new byte[] {(byte) 0xC3, 0x28}, "\""));
        c.put("overlong slash", withBytes("subject", "\"k", new byte[] {(byte) 0xC0, (byte) 0xAF}, "\""));
        c.put("UTF-8 encoded surrogate", withBytes("subject", "\"k",
                new byte[] {(byte) 0xED, (byte) 0xA0, (byte) 0x80}, "\""));
        c.put("truncated sequence", withBytes("subject", "\"k", new byte[] {(byte) 0xE2, (byte) 0x82}, "\""));
        c.put("0xFF byte in data", withBytes("data", "{\"model\":\"a", new byte[] {(byte) 0xFF}, "\"}"));
        // Deep nesting
        c.put("data nested 40 deep", utf8(with("data", "{\"a\":".repeat(40) + "1" + "}".repeat(40))));
        c.put("data nested 100000 deep", utf8(with("data", "{\"a\":".repeat(100_000) + "1" + "}".repeat(100_000))));
        c.put("arrays nested 100000 deep in data", utf8(with("data", "{\"a\":" + "[".repeat(100_000)
                + "]".repeat(100_000) + "}")));
        // NaN and Infinity
        c.put("NaN", utf8(with("data", "{\"input_tokens\":NaN}")));
        c.put("Infinity", utf8(with("data", "{\"input_tokens\":Infinity}")));
        c.put("-Infinity", utf8(with("data", "{\"input_tokens\":-Infinity}")));
        c.put("NaN as string-free token in time", utf8(with("time", "NaN")));
        // Absurd numbers
        c.put("1e999999", utf8(with("data", "{\"input_tokens\":1e999999}")));
        c.put("-1e400", utf8(with("data", "{\"input_tokens\":-1e400}")));
        c.put("42 digits", utf8(with("data", "{\"input_tokens\":" + "9".repeat(42) + "}")));
        c.put("10000 digits", utf8(with("data", "{\"input_tokens\":" + "7".repeat(10_000) + "}")));
        c.put("too many decimals", utf8(with("data", "{\"input_tokens\":0." + "0".repeat(20) + "1}")));
        // Absurd timestamps
        c.put("year 99999", utf8(with("time", "\"+99999-01-01T00:00:00Z\"")));
        c.put("year -1", utf8(with("time", "\"-000001-01-01T00:00:00Z\"")));
        c.put("epoch 0", utf8(with("time", "\"1970-01-01T00:00:00Z\"")));
        c.put("negative epoch number", utf8(with("time", "-62135596800")));
        c.put("month 13", utf8(with("time", "\"2026-13-45T25:61:61Z\"")));
        c.put("no zone", utf8(with("time", "\"2026-11-22T03:00:00\"")));
        c.put("far future", utf8(with("time", "\"9999-12-31T23:59:59.999999999Z\"")));
        // Wrong types
        c.put("tenant number", utf8(with("tenant", "42")));
        c.put("id object", utf8(with("id", "{\"x\":1}")));
        c.put("id null", utf8(with("id", "null")));
        c.put("subject array", utf8(with("subject", "[\"a\"]")));
        c.put("time boolean", utf8(with("time", "true")));
        c.put("data array", utf8(with("data", "[1,2]")));
        c.put("data string", utf8(with("data", "\"{}\"")));
        c.put("data null", utf8(with("data", "null")));
        c.put("line is a number", utf8("12345"));
        c.put("line is a string", utf8("\"event\""));
        c.put("line is null", utf8("null"));
        c.put("unknown top-level field", utf8(with("source", "\"s\",\"extra\":1")));
        // Duplicate keys
        c.put("duplicate id", utf8(with("id", "\"d-1\",\"id\":\"d-2\"")));
        c.put("duplicate key in data", utf8(with("data", "{\"input_tokens\":1,\"input_tokens\":2}")));
        c.put("duplicate key deep in data", utf8(with("data", "{\"a\":{\"b\":1,\"b\":1}}")));
        // Lengths
        c.put("data of 200 KiB", utf8(with("data", "{\"s\":\"" + "x".repeat(200 << 10) + "\"}")));
        c.put("id of 10000 chars", utf8(with("id", "\"" + "i".repeat(10_000) + "\"")));
        c.put("tenant of 65 chars", utf8(with("tenant", "\"" + "t".repeat(65) + "\"")));
        // Path tricks in the only field that could name a directory
        c.put("tenant ../", utf8(with("tenant", "\"../../escape-tenant\"")));
        c.put("tenant absolute", utf8(with("tenant", "\"/tmp/escape-tenant\"")));
        c.put("tenant NUL", utf8(with("tenant", "\"acme\\u0000x\"")));
        c.put("tenant backslashes", utf8(with("tenant", "\"..\\\\..\\\\escape-tenant\"")));
        c.put("tenant dot", utf8(with("tenant", "\".\"")));
        c.put("id with NUL", utf8(with("id", "\"nul\\u0000byte\"")));
        c.put("subject with NUL", utf8(with("subject", "\"../\\u0000/etc\"")));
        c.put("tenant raw control char", utf8(with("tenant", "\"ac\tme\"")));
        return c;
    }

    /** Events whose path-like values are legal data: accepted, stored as text, never a file name. */
    private List<String> pathLikeButValid() {
        return List.of(with("id", "\"../../../escape-id\""), with("id", "\"/etc/passwd\""),
                with("subject", "\"../../escape-subject\""),
                with("source", "\"/../../escape-source\""), with("type", "\"../escape-type\""),
                with("id", "\"C:\\\\Windows\\\\escape-id\""));
    }

    @Test
    void postEvents_hostileCorpus_eachGetsAReasonValidOnesAcceptedWorkerStaysUp() throws Exception {
        Path data = tmp.resolve("data");
        try (WorkerProcess w = WorkerProcess.start(tmp.resolve("worker.log"), "run", "--data-dir", data.toString(),
                "--set", "http.port=0", "--set", "import.interval=100ms",
                "--set", "http.max-request-bytes=" + MAX_REQUEST)) {
            int port = w.awaitPort(60);
            Http http = new Http("127.0.0.1", port);
            String base = "http://127.0.0.1:" + port;
            List<String> outcomes = new ArrayList<>();

            // 1. Each hostile event between two valid ones, as NDJSON: it alone is refused, with a reason.
            for (Map.Entry<String, byte[]> e : corpus().entrySet()) {
                byte[] body = lines(utf8(valid()), e.getValue(), utf8(valid()));
                HttpResponse<String> r = post(base, "application/x-ndjson", body);
                String what = e.getKey() + ": " + r.statusCode() + " " + abbreviate(r.body());
                assertEquals(202, r.statusCode(), what);
                JsonNode j = JSON.readTree(r.body());
                assertEquals(2, j.get("accepted").asInt(), what);
                assertEquals(1, j.get("rejected").size(), what);
                JsonNode rej = j.get("rejected").get(0);
                assertEquals(1, rej.get("index").asInt(), what);
                assertTrue(REASONS.contains(rej.get("reason").asText()), what);
                assertClearMessage(rej.get("message").asText(), what);
                outcomes.add(e.getKey() + " -> " + rej.get("reason").asText());
                assertReady(http, what);
            }

            // 2. The same corpus as one JSON array is not JSON when a line is broken: a clear 400, nothing stored.
            for (Map.Entry<String, byte[]> e : corpus().entrySet()) {
                byte[] body = join(utf8("[" + valid() + ","), e.getValue(), utf8("]"));
                validSent--; // refused or accepted below; counted there
                HttpResponse<String> r = post(base, "application/json", body);
                String what = "array with " + e.getKey() + ": " + r.statusCode() + " " + abbreviate(r.body());
                JsonNode j = JSON.readTree(r.body());
                if (r.statusCode() == 202) {
                    assertEquals(1, j.get("accepted").asInt(), what);
                    assertEquals(1, j.get("rejected").get(0).get("index").asInt(), what);
                    validSent++;
                } else {
                    assertEquals(400, r.statusCode(), what);
                    assertTrue(Set.of("invalid_json", "no_valid_events").contains(j.get("error").asText()), what);
                    assertClearMessage(j.get("message").asText(), what);
                }
                assertReady(http, what);
            }

            // 3. Path-like values that are legal data are accepted as text and never become file names.
            List<String> lines = new ArrayList<>(pathLikeButValid());
            HttpResponse<String> pr = post(base, "application/x-ndjson", utf8(String.join("\n", lines)));
            assertEquals(202, pr.statusCode(), pr.body());
            assertEquals(lines.size(), JSON.readTree(pr.body()).get("accepted").asInt(), pr.body());
            validSent += lines.size();

            // 4. Whole bodies that are not events.
            Map<String, byte[]> bodies = new LinkedHashMap<>();
            bodies.put("empty", new byte[0]);
            bodies.put("whitespace", utf8(" \n\t\n "));
            bodies.put("NUL bytes", new byte[4096]);
            bodies.put("random bytes", randomBytes(8192));
            bodies.put("unclosed array", utf8("[" + with("id", "\"u-1\"")));
            bodies.put("top-level nesting 100000", utf8("[".repeat(100_000) + "]".repeat(100_000)));
            bodies.put("BOM then garbage", join(new byte[] {(byte) 0xEF, (byte) 0xBB, (byte) 0xBF}, utf8("{{{")));
            for (Map.Entry<String, byte[]> e : bodies.entrySet()) {
                HttpResponse<String> r = post(base, "application/json", e.getValue());
                String what = "body " + e.getKey() + ": " + r.statusCode() + " " + abbreviate(r.body());
                assertEquals(400, r.statusCode(), what);
                JsonNode j = JSON.readTree(r.body());
                assertTrue(Set.of("empty_body", "invalid_json", "no_valid_events").contains(j.get("error").asText()),
                        what);
                assertClearMessage(j.get("message").asText(), what);
                outcomes.add("body " + e.getKey() + " -> " + r.statusCode() + " " + j.get("error").asText());
                assertReady(http, what);
            }
            HttpResponse<String> ct = post(base, "application/x-evil", utf8(valid()));
            validSent--;
            assertEquals(415, ct.statusCode(), ct.body());

            // 5. Bodies larger than http.max-request-bytes: streamed (chunked, 64x the limit, never built in
            //    memory) and declared (Content-Length of 2 GiB with no body sent): 413, the worker stays up.
            long streamed = 64 * MAX_REQUEST;
            HttpRequest big = HttpRequest.newBuilder(URI.create(base + "/v1/events")).timeout(Duration.ofSeconds(60))
                    .header("Content-Type", "application/x-ndjson")
                    .POST(HttpRequest.BodyPublishers.ofInputStream(() -> new EventStream(streamed, now))).build();
            try {
                HttpResponse<String> r = CLIENT.send(big, HttpResponse.BodyHandlers.ofString());
                assertEquals(413, r.statusCode(), abbreviate(r.body()));
                assertEquals("request_too_large", JSON.readTree(r.body()).get("error").asText(), r.body());
                outcomes.add("streamed body of " + streamed + " bytes -> 413");
            } catch (IOException e) {
                // The server may close the connection after answering 413 while the client still sends.
                outcomes.add("streamed body of " + streamed + " bytes -> connection closed by the worker (" + e + ")");
            }
            assertReady(http, "after the streamed huge body");
            String declared = rawDeclaredHuge(port, 2L << 30);
            assertTrue(declared.startsWith("HTTP/1.1 413"), declared);
            outcomes.add("declared Content-Length 2 GiB -> " + declared.lines().findFirst().orElse(""));
            assertReady(http, "after the declared huge body");

            // 6. Path tricks in the URL and query parameters.
            for (String path : List.of("/v1/meters/..%2F..%2Fetc%2Fpasswd/query?tenant=acme",
                    "/v1/meters/input_tokens/query?tenant=..%2F..%2Fescape&sum-subjects=true",
                    "/v1/meters/input_tokens/query?tenant=acme%00x", "/v1/../../etc/passwd", "/%2e%2e/%2e%2e/")) {
                HttpResponse<String> r = http.get(path);
                String what = path + ": " + r.statusCode() + " " + abbreviate(r.body());
                assertTrue(r.statusCode() >= 400 && r.statusCode() < 500, what);
                assertTrue(r.body().contains("\"error\""), what);
                outcomes.add("GET " + path + " -> " + r.statusCode());
                assertReady(http, what);
            }

            // Every valid event is imported, exactly once; the worker is alive and its metrics are well formed.
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (PromText.parse(http.get("/metrics").body()).value("tally_events_accepted_total") < validSent) {
                assertTrue(System.nanoTime() < deadline, "the valid events were not all imported");
                Thread.sleep(100);
            }
            Thread.sleep(500);
            assertEquals(validSent, PromText.parse(http.get("/metrics").body()).value("tally_events_accepted_total"));
            assertTrue(w.alive());
            outcomes.forEach(System.out::println);
            System.out.println("hostile HTTP corpus: " + corpus().size() + " events, " + bodies.size()
                    + " bodies, 2 oversized bodies, 5 URL tricks; " + validSent + " valid events stored");
            w.terminate();
            assertEquals(0, w.waitFor(60), w.stderrText());
            assertFalse(w.stderrText().contains("OutOfMemoryError"), w.stderrText());
        }
        // No name from input became a file: nothing anywhere under the test folder is named after one.
        try (Stream<Path> all = Files.walk(tmp)) {
            List<String> escaped = all.map(p -> p.getFileName().toString())
                    .filter(n -> n.contains("escape") || n.contains("passwd") || n.contains("\u0000")).toList();
            assertTrue(escaped.isEmpty(), escaped.toString());
        }
        assertFalse(Files.exists(tmp.getParent().resolve("escape-tenant")));
        assertFalse(Files.exists(Path.of("/tmp/escape-tenant")));
    }

    /**
     * Slow and flooding clients (slow headers, slow bodies, a flood of idle connections, each far
     * more than http.threads) neither block nor slow {@code /healthz}: it answers within 1 s on a
     * fresh connection throughout, and the worker cuts the slow ones off by its timeouts.
     */
    @Test
    void slowClients_healthzAnswersWithinOneSecondWhileTheyRun() throws Exception {
        Path data = tmp.resolve("data");
        try (WorkerProcess w = WorkerProcess.start(tmp.resolve("worker.log"), "run", "--data-dir", data.toString(),
                "--set", "http.port=0", "--set", "http.threads=2", "--set", "http.header-timeout=2s",
                "--set", "http.request-timeout=2s")) {
            int port = w.awaitPort(60);
            // The worker's first answer loads the classes of the whole request path (100-350 ms
            // here); that is start-up, not what slow clients cost.
            long first = healthzMillis(port, 10_000);
            long worst = 0;

            // 1. Slow headers: 24 connections each add one header byte every 100 ms; closed by http.header-timeout.
            List<Socket> slow = open(port, 24, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ");
            int closedByWorker = 0;
            for (int i = 0; i < 100 && !slow.isEmpty(); i++) { // at most 10 s
                worst = Math.max(worst, healthzMillis(port, 1_000));
                closedByWorker += dripAndReap(slow, "a", null);
                Thread.sleep(100);
            }
            assertTrue(slow.isEmpty(), slow.size() + " slow-header connections still open after 10 s");
            assertEquals(24, closedByWorker);

            // 2. Slow bodies: 24 posts declare 100000 bytes and send one every 100 ms; each gets 408.
            slow = open(port, 24, "POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                    + "Content-Length: 100000\r\n\r\n[");
            List<String> answers = new ArrayList<>();
            for (int i = 0; i < 100 && !slow.isEmpty(); i++) {
                worst = Math.max(worst, healthzMillis(port, 1_000));
                dripAndReap(slow, " ", answers);
                Thread.sleep(100);
            }
            assertTrue(slow.isEmpty(), slow.size() + " slow-body connections still open after 10 s");
            assertEquals(24, answers.size());
            for (String a : answers) {
                assertTrue(a.startsWith("HTTP/1.1 408") && a.contains("\"error\":\"request_timeout\""), a);
            }

            // 3. A flood of 200 connections that send nothing (below http.max-connections).
            List<Socket> flood = open(port, 200, "");
            try {
                for (int i = 0; i < 10; i++) {
                    worst = Math.max(worst, healthzMillis(port, 1_000));
                }
            } finally {
                for (Socket s : flood) {
                    s.close();
                }
            }
            System.out.println("slow clients: 24 slow-header and 24 slow-body connections cut off, 200 idle "
                    + "connections; slowest /healthz " + worst + " ms (the first, before them: " + first + " ms)");
            assertTrue(worst < 1_000, "slowest /healthz took " + worst + " ms");
            assertEquals(200, new Http("127.0.0.1", port).get("/readyz").statusCode());
            w.terminate();
            assertEquals(0, w.waitFor(60), w.stderrText());
        }
    }

    /** {@code n} connections that sent {@code head}. */
    private static List<Socket> open(int port, int n, String head) throws IOException {
        List<Socket> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Socket s = new Socket("127.0.0.1", port);
            s.setSoTimeout(1);
            if (!head.isEmpty()) {
                s.getOutputStream().write(head.getBytes(StandardCharsets.US_ASCII));
            }
            out.add(s);
        }
        return out;
    }

    /**
     * Sends {@code drip} on each connection and removes those the worker answered or closed,
     * adding what it answered to {@code answers}; returns how many were closed.
     */
    private static int dripAndReap(List<Socket> sockets, String drip, List<String> answers) throws IOException {
        int closed = 0;
        for (java.util.Iterator<Socket> it = sockets.iterator(); it.hasNext(); ) {
            Socket s = it.next();
            ByteArrayOutputStream got = new ByteArrayOutputStream();
            boolean done = false;
            try {
                s.getOutputStream().write(drip.getBytes(StandardCharsets.US_ASCII));
                byte[] buf = new byte[4096];
                int n;
                while ((n = s.getInputStream().read(buf)) > 0) {
                    got.write(buf, 0, n);
                }
                done = n < 0;
            } catch (java.net.SocketTimeoutException e) {
                // nothing more yet; with an answer received, read it to the end below
                done = got.size() > 0;
                if (done) {
                    s.setSoTimeout(5_000);
                    got.writeBytes(s.getInputStream().readAllBytes());
                }
            } catch (IOException e) {
                done = true;
            }
            if (done) {
                if (answers != null && got.size() > 0) {
                    answers.add(got.toString(StandardCharsets.UTF_8));
                }
                s.close();
                it.remove();
                closed++;
            }
        }
        return closed;
    }

    /** How long GET /healthz takes on a new connection; fails beyond {@code limitMillis}. */
    private static long healthzMillis(int port, int limitMillis) throws IOException {
        long start = System.nanoTime();
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(limitMillis);
            s.getOutputStream().write("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
                    .getBytes(StandardCharsets.US_ASCII));
            String answer = new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(answer.startsWith("HTTP/1.1 200") && answer.contains("\"ok\""), answer);
        } catch (java.net.SocketTimeoutException e) {
            throw new AssertionError("/healthz did not answer within " + limitMillis + " ms", e);
        }
        return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    }

    private static void assertReady(Http http, String after) throws Exception {
        HttpResponse<String> r = http.get("/readyz");
        assertEquals(200, r.statusCode(), "not ready after " + after + ": " + r.body());
    }

    private static void assertClearMessage(String message, String what) {
        assertFalse(message.isBlank(), what);
        for (String internal : List.of("Exception", "at dev.", "com.fasterxml", "java.")) {
            assertFalse(message.contains(internal), "internals in the message: " + what);
        }
        assertTrue(message.length() < 2_000, "message too long: " + what);
    }

    private static HttpResponse<String> post(String base, String contentType, byte[] body) throws Exception {
        HttpRequest r = HttpRequest.newBuilder(URI.create(base + "/v1/events")).timeout(Duration.ofSeconds(60))
                .header("Content-Type", contentType).POST(HttpRequest.BodyPublishers.ofByteArray(body)).build();
        return CLIENT.send(r, HttpResponse.BodyHandlers.ofString());
    }

    /** Sends headers declaring {@code length} bytes and no body; returns what the worker answers. */
    private static String rawDeclaredHuge(int port, long length) throws IOException {
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(30_000);
            OutputStream out = s.getOutputStream();
            out.write(("POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                    + "Content-Length: " + length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            out.write("[".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            InputStream in = s.getInputStream();
            ByteArrayOutputStream got = new ByteArrayOutputStream();
            byte[] buf = new byte[4096];
            int n;
            while ((n = in.read(buf)) > 0) {
                got.write(buf, 0, n);
                if (got.toString(StandardCharsets.UTF_8).contains("}")) {
                    break;
                }
            }
            return got.toString(StandardCharsets.UTF_8);
        }
    }

    /** Valid NDJSON events, generated as they are read, {@code total} bytes in all. */
    static final class EventStream extends InputStream {
        private final long total;
        private final Instant time;
        private long sent;
        private byte[] line = new byte[0];
        private int pos;
        private int n;

        EventStream(long total, Instant time) {
            this.total = total;
            this.time = time;
        }

        @Override
        public int read() {
            byte[] one = new byte[1];
            return read(one, 0, 1) < 0 ? -1 : one[0] & 0xFF;
        }

        @Override
        public int read(byte[] b, int off, int len) {
            if (sent >= total) {
                return -1;
            }
            if (pos == line.length) {
                line = (Events.json("acme", "big-" + n++, "key-1", time.minusSeconds(30), 1) + "\n")
                        .getBytes(StandardCharsets.UTF_8);
                pos = 0;
            }
            int k = (int) Math.min(Math.min(len, line.length - pos), total - sent);
            System.arraycopy(line, pos, b, off, k);
            pos += k;
            sent += k;
            return k;
        }
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /** An event whose {@code field} is {@code head}, the raw {@code bad} bytes, then {@code tail}. */
    private byte[] withBytes(String field, String head, byte[] bad, String tail) {
        String[] around = with(field, head + "\u0001" + tail).split("\u0001");
        return join(utf8(around[0]), bad, utf8(around[1]));
    }

    private static byte[] join(byte[]... parts) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            b.writeBytes(p);
        }
        return b.toByteArray();
    }

    private static byte[] lines(byte[]... lines) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        for (byte[] l : lines) {
            b.writeBytes(l);
            b.write('\n');
        }
        return b.toByteArray();
    }

    private static byte[] randomBytes(int n) {
        byte[] b = new byte[n];
        new java.util.Random(99).nextBytes(b);
        return b;
    }

    private static String abbreviate(String s) {
        return s.length() > 400 ? s.substring(0, 400) + "..." : s;
    }
}
