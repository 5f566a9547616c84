package dev.tally.worker.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.KeyStore;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The transport alone, with a handler that echoes the request: limits, timeouts, HTTP/2 and TLS.
 * Every server binds to loopback on a free port.
 */
class JettyTransportTest {
    @TempDir
    Path tmp;

    /** Answers 200 with "METHOD PATH BODY-LENGTH". */
    static final Consumer<HttpExchange> ECHO = ex -> {
        try {
            byte[] body = ex.getRequestBody().readAllBytes();
            byte[] out = (ex.getRequestMethod() + " " + ex.getRequestURI().getRawPath() + " " + body.length)
                    .getBytes(StandardCharsets.UTF_8);
            ex.getResponseHeaders().set("Content-Type", "text/plain");
            ex.sendResponseHeaders(200, out.length);
            ex.getResponseBody().write(out);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        } finally {
            ex.close();
        }
    };

    static HttpServerSettings.Builder settings() {
        return HttpServerSettings.builder().host("127.0.0.1").port(0).threads(2)
                .headerTimeout(Duration.ofMillis(500)).requestTimeout(Duration.ofMillis(500))
                .idleTimeout(Duration.ofSeconds(30));
    }

    /** A request whose headers trickle in is cut off after the header timeout; the server stays responsive. */
    @Test
    void slowHeaders_connectionClosedAfterHeaderTimeout() throws Exception {
        try (JettyTransport t = JettyTransport.start(settings().build(), ECHO);
                Socket s = new Socket("127.0.0.1", t.port())) {
            s.setSoTimeout(50);
            s.getOutputStream().write("GET /x HTTP/1.1\r\nHost: a\r\n".getBytes(StandardCharsets.US_ASCII));
            long start = System.nanoTime();
            boolean closed = false;
            for (int i = 0; i < 100 && !closed; i++) { // one header byte every 50 ms (the read timeout), at most 5 s
                try {
                    s.getOutputStream().write('x');
                    closed = s.getInputStream().read() < 0;
                } catch (SocketTimeoutException e) {
                    // still open
                } catch (IOException e) {
                    closed = true;
                }
            }
            assertTrue(closed, "the slow-header connection was not closed");
            long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            assertTrue(ms >= 400 && ms < 4_000, "closed after " + ms + " ms");
            assertEquals("GET /after 0", get(t.port(), "/after"));
        }
    }

    /**
     * A keep-alive client whose next request's headers arrive in two parts, a third of the header
     * timeout apart, right after the last answer, is never cut off: the watchdog gives headers
     * it sees under way a whole timeout.
     */
    @Test
    void keepAliveHeadersInTwoParts_neverClosed() throws Exception {
        try (JettyTransport t = JettyTransport.start(settings().headerTimeout(Duration.ofMillis(300)).build(), ECHO);
                Socket s = new Socket("127.0.0.1", t.port())) {
            s.setSoTimeout(5_000);
            java.io.InputStream in = s.getInputStream();
            for (int i = 0; i < 10; i++) {
                s.getOutputStream().write("GET /k HTTP/1.1\r\nHost: a\r\n".getBytes(StandardCharsets.US_ASCII));
                s.getOutputStream().flush();
                Thread.sleep(100); // the client's pace, within the header timeout
                s.getOutputStream().write("X-Part: two\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                String head = readResponse(in);
                assertTrue(head.startsWith("HTTP/1.1 200"), "request " + i + ": " + head);
            }
        }
    }

    /** One HTTP/1.1 response with a Content-Length body, read off a kept-alive connection. */
    private static String readResponse(java.io.InputStream in) throws IOException {
        StringBuilder head = new StringBuilder();
        while (!head.toString().endsWith("\r\n\r\n")) {
            int c = in.read();
            if (c < 0) {
                throw new IOException("connection closed after " + head);
            }
            head.append((char) c);
        }
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("(?i)content-length: *(\\d+)").matcher(head);
        int len = m.find() ? Integer.parseInt(m.group(1)) : 0;
        in.readNBytes(len);
        return head.toString();
    }

    /** A body that trickles in gets 408 after the request timeout, in the API's JSON error shape. */
    @Test
    void slowBody_gets408AfterRequestTimeout() throws Exception {
        try (JettyTransport t = JettyTransport.start(settings().build(), ECHO);
                Socket s = new Socket("127.0.0.1", t.port())) {
            s.setSoTimeout(5_000);
            s.getOutputStream().write(("POST /v1/events HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n"
                    + "Content-Length: 1000\r\n\r\n[").getBytes(StandardCharsets.US_ASCII));
            String answer = readAll(s.getInputStream());
            assertTrue(answer.startsWith("HTTP/1.1 408"), answer);
            assertTrue(answer.contains("\"error\":\"request_timeout\""), answer);
            assertTrue(answer.toLowerCase(java.util.Locale.ROOT).contains("connection: close"), answer);
        }
    }

    /** Headers above http.max-header-bytes get 431 in the JSON error shape. */
    @Test
    void hugeHeaders_get431() throws Exception {
        try (JettyTransport t = JettyTransport.start(settings().maxHeaderBytes(1024).build(), ECHO);
                Socket s = new Socket("127.0.0.1", t.port())) {
            s.setSoTimeout(5_000);
            s.getOutputStream().write(("GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + "b".repeat(4096) + "\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            String answer = readAll(s.getInputStream());
            assertTrue(answer.startsWith("HTTP/1.1 431"), answer);
            assertTrue(answer.contains("\"error\":\"headers_too_large\""), answer);
        }
    }

    /** At http.max-connections no more are accepted; idle ones are shed after the header timeout, then a new one is served. */
    @Test
    void connectionLimit_idleConnectionsShedThenNewOneServed() throws Exception {
        // Jetty shortens the idle timeout of connections it knows when it reaches the limit; one accepted
        // just then keeps http.idle-timeout, so that is short here too.
        try (JettyTransport t = JettyTransport.start(settings().maxConnections(4).idleTimeout(Duration.ofSeconds(3))
                .build(), ECHO)) {
            List<Socket> idle = new ArrayList<>();
            try {
                for (int i = 0; i < 4; i++) {
                    idle.add(new Socket("127.0.0.1", t.port()));
                }
                long start = System.nanoTime();
                assertEquals("GET /fifth 0", get(t.port(), "/fifth"));
                long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
                assertTrue(ms >= 300, "the fifth connection was served at once (" + ms + " ms): no limit");
                for (Socket s : idle) {
                    s.setSoTimeout(5_000);
                    assertEquals(-1, s.getInputStream().read(), "an idle connection at the limit stayed open");
                }
            } finally {
                for (Socket s : idle) {
                    s.close();
                }
            }
        }
    }

    /** Cleartext HTTP/2 (h2c, by upgrade) is served. */
    @Test
    void h2c_servedOverHttp2() throws Exception {
        try (JettyTransport t = JettyTransport.start(settings().build(), ECHO)) {
            HttpClient c = HttpClient.newBuilder().version(HttpClient.Version.HTTP_2).build();
            HttpResponse<String> r = c.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + t.port() + "/a"))
                    .POST(HttpRequest.BodyPublishers.ofString("hello")).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, r.statusCode());
            assertEquals("POST /a 5", r.body());
            HttpResponse<String> again = c.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + t.port()
                    + "/b")).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(HttpClient.Version.HTTP_2, again.version());
            assertEquals("GET /b 0", again.body());
        }
    }

    /** With a key store the API speaks HTTPS, and h2 by ALPN. */
    @Test
    void tls_servesHttpsAndH2() throws Exception {
        Path ks = tmp.resolve("server.p12");
        Process keytool = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "keytool").toString(),
                "-genkeypair", "-alias", "tally", "-keyalg", "EC", "-groupname", "secp256r1", "-validity", "2",
                "-dname", "CN=localhost", "-ext", "san=ip:127.0.0.1,dns:localhost", "-storetype", "PKCS12",
                "-keystore", ks.toString(), "-storepass", "secret-pw", "-keypass", "secret-pw")
                .redirectErrorStream(true).start();
        assertTrue(keytool.waitFor(60, TimeUnit.SECONDS) && keytool.exitValue() == 0,
                new String(keytool.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
        try (JettyTransport t = JettyTransport.start(settings().keyStore(ks, "secret-pw").build(), ECHO)) {
            KeyStore trust = KeyStore.getInstance("PKCS12");
            try (InputStream in = java.nio.file.Files.newInputStream(ks)) {
                trust.load(in, "secret-pw".toCharArray());
            }
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(trust);
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(null, tmf.getTrustManagers(), null);
            HttpClient c = HttpClient.newBuilder().sslContext(ctx).version(HttpClient.Version.HTTP_2).build();
            HttpResponse<String> r = c.send(HttpRequest.newBuilder(URI.create("https://127.0.0.1:" + t.port()
                    + "/secure")).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, r.statusCode());
            assertEquals(HttpClient.Version.HTTP_2, r.version());
            assertEquals("GET /secure 0", r.body());
        }
    }

    private static String get(int port, String path) throws Exception {
        HttpClient c = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        HttpResponse<String> r = c.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
                .timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode(), r.body());
        return r.body();
    }

    /** Everything until the server closes the connection (or 5 s pass). */
    private static String readAll(InputStream in) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] buf = new byte[4096];
        try {
            int n;
            while ((n = in.read(buf)) > 0) {
                out.write(buf, 0, n);
            }
        } catch (SocketTimeoutException | java.net.SocketException e) {
            // what arrived is the answer
        }
        return out.toString(StandardCharsets.UTF_8);
    }
}
