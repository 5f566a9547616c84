package dev.tally.worker.http;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The operator console's static files ({@code console/} on the class path, kept in the repository
 * at usage-worker/src/main/resources/console): {@code GET /} is the page, {@code GET /console/{file}}
 * its script, style sheet and icon. The files hold no data: the page asks the JSON API for
 * everything it shows, with the bearer token the operator types in, so it sees exactly what the
 * token may see (docs/console.md).
 *
 * <p>Only the files listed in {@link #FILES} are served, loaded once from the class path: a request
 * path is looked up in that map and never resolved against a directory, so no path can reach
 * another resource. Every answer carries a Content-Security-Policy that allows scripts, styles and
 * connections to this origin only (no inline script, no framing), so text from the API (dead
 * letters hold arbitrary producer input) can never run as code even if the page mishandled it.
 *
 * <p>Thread-safe: the bytes are loaded once by the class initializer and never handed out mutably.
 */
public final class ConsoleAssets {
    /** The route of the assets, as counted in {@code tally_http_requests_total}. */
    static final String ASSET_ROUTE = "/console/{file}";
    private static final String PREFIX = "/console/";
    private static final String CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            + "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    /** Served path to (class-path resource, Content-Type). */
    private static final Map<String, String[]> FILES = Map.of(
            "/", new String[] {"console/index.html", "text/html; charset=utf-8"},
            PREFIX + "console.js", new String[] {"console/console.js", "text/javascript; charset=utf-8"},
            PREFIX + "console.css", new String[] {"console/console.css", "text/css; charset=utf-8"},
            PREFIX + "favicon.svg", new String[] {"console/favicon.svg", "image/svg+xml"});
    private static final Map<String, byte[]> BYTES = load();

    private ConsoleAssets() {
    }

    /** Whether {@code rawPath} is the console's page or under its asset prefix (404 when no such file). */
    static boolean serves(String rawPath) {
        return rawPath.equals("/") || rawPath.startsWith(PREFIX);
    }

    /** The route name of {@code rawPath} for the request counter. */
    static String route(String rawPath) {
        return rawPath.equals("/") ? "/" : ASSET_ROUTE;
    }

    /**
     * Answers {@code GET rawPath} with the file and its security headers.
     *
     * @throws ApiException 404 {@code not_found} for a path under {@code /console/} that is no console file
     */
    static int send(HttpExchange ex, String rawPath) throws IOException {
        byte[] body = BYTES.get(rawPath);
        if (body == null) {
            throw new ApiException(404, "not_found", "no console file " + rawPath + "; the console is at /");
        }
        var h = ex.getResponseHeaders();
        h.set("Content-Type", FILES.get(rawPath)[1]);
        // Revalidate on every load: a new worker version must not run against an old cached script.
        h.set("Cache-Control", "no-cache");
        h.set("Content-Security-Policy", CSP);
        h.set("X-Content-Type-Options", "nosniff");
        h.set("X-Frame-Options", "DENY");
        h.set("Referrer-Policy", "no-referrer");
        ex.sendResponseHeaders(200, body.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(body);
        }
        return 200;
    }

    private static Map<String, byte[]> load() {
        Map<String, byte[]> out = new LinkedHashMap<>();
        for (Map.Entry<String, String[]> f : FILES.entrySet()) {
            try (InputStream in = ConsoleAssets.class.getClassLoader().getResourceAsStream(f.getValue()[0])) {
                if (in == null) {
                    throw new IllegalStateException(f.getValue()[0] + " is missing from the class path");
                }
                out.put(f.getKey(), in.readAllBytes());
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return Map.copyOf(out);
    }
}
