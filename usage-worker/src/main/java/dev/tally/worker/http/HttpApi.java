package dev.tally.worker.http;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.exc.StreamReadException;
import dev.tally.store.EngineErrors;
import dev.tally.store.Rejection;
import dev.tally.store.StoreException;
import io.micrometer.core.instrument.Counter;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The worker's HTTP API: routes, authentication and JSON, over the transport in
 * {@link JettyTransport} (which enforces the connection, timeout and size limits). Every response
 * is JSON (except {@code /metrics}, SQL results in CSV or table form and the console's files);
 * every error is {@code {"error": code, "message": ...}}. See docs/http-api.md.
 *
 * <pre>
 * POST /v1/events                 events (object, array, NDJSON, CloudEvents); 202 once durable
 * GET  /v1/meters/{name}/query    a meter query
 * POST /v1/sql                    sandboxed SQL
 * GET  /v1/segments               tiers, segments and parts
 * GET  /v1/dead-letters           the tenant's dead letters by reason, with examples
 * GET  /healthz                   the process is up
 * GET  /readyz                    the store is open and the loops are healthy (else 503)
 * GET  /metrics                   Prometheus text format 0.0.4
 * GET  /openapi.json              the OpenAPI 3.1 contract (src/main/resources/openapi.json)
 * GET  /, /console/{file}         the operator console's static files ({@link ConsoleAssets})
 * </pre>
 *
 * With a token file, the {@code /v1/} endpoints require {@code Authorization: Bearer <token>}
 * (401 without or with an unknown token) and a token only reaches its own tenant (403 otherwise).
 * Bodies larger than {@code http.max-request-bytes} are refused with 413.
 *
 * <p>Thread-safe.
 */
public final class HttpApi implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(HttpApi.class);
    private static final Pattern METER_QUERY = Pattern.compile("/v1/meters/([^/]+)/query");
    private static final String JSON = "application/json; charset=utf-8";
    /** Prometheus text exposition format 0.0.4. */
    private static final String PROMETHEUS = "text/plain; version=0.0.4; charset=utf-8";

    private volatile JettyTransport transport;
    private final ApiBackend backend;
    private final TokenAuth auth;
    private final long maxRequestBytes;
    private final Map<String, Counter> requests = new ConcurrentHashMap<>();
    private volatile boolean stopping;
    private final Object inFlightLock = new Object();
    private int inFlight; // guarded by inFlightLock

    private HttpApi(ApiBackend backend, TokenAuth auth, long maxRequestBytes) {
        this.backend = backend;
        this.auth = auth;
        this.maxRequestBytes = maxRequestBytes;
    }

    /**
     * Binds {@code settings.host():settings.port()} (port 0 picks a free port) and starts serving.
     *
     * @param auth null to serve without authentication
     * @throws IOException when the address cannot be bound or the key store cannot be read
     */
    public static HttpApi start(ApiBackend backend, HttpServerSettings settings, TokenAuth auth) throws IOException {
        HttpApi api = new HttpApi(backend, auth, settings.maxRequestBytes());
        api.transport = JettyTransport.start(settings, api::handle);
        return api;
    }

    /** The bound port. */
    public int port() {
        return transport.port();
    }

    /** The bound host address as text. */
    public String host() {
        return transport.host();
    }

    /**
     * Stops intake: new requests are answered 503 and the listener closes; requests in progress
     * may finish for up to {@code grace}.
     */
    public void stop(Duration grace) {
        refuseEvents();
        long deadline = System.nanoTime() + grace.toNanos();
        synchronized (inFlightLock) {
            while (inFlight > 0 && System.nanoTime() < deadline) {
                try {
                    inFlightLock.wait(Math.max(1, (deadline - System.nanoTime()) / 1_000_000));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
            if (inFlight > 0) {
                log.warn("{} HTTP request(s) still in progress after {} ms; closing anyway", inFlight,
                        grace.toMillis());
            }
        }
        // Requests are drained: close the listener and idle connections at once.
        transport.close();
    }

    /** The first step of {@link #stop}: event posts get 503 {@code shutting_down} and {@code /readyz} 503. */
    void refuseEvents() {
        stopping = true;
    }

    @Override
    public void close() {
        stop(Duration.ZERO);
    }

    /** Counts one answered request as {@code tally_http_requests_total{route, code}}. */
    private void countRequest(String route, int status) {
        requests.computeIfAbsent(route + " " + status, k -> Counter.builder("tally.http.requests")
                .description("HTTP requests answered, by route and status code.")
                .tags("route", route, "code", Integer.toString(status)).register(backend.metrics())).increment();
    }

    // ---------------------------------------------------------------- dispatch

    private void handle(HttpExchange ex) {
        synchronized (inFlightLock) {
            inFlight++;
        }
        try {
            dispatch(ex);
        } finally {
            synchronized (inFlightLock) {
                inFlight--;
                inFlightLock.notifyAll();
            }
        }
    }

    private void dispatch(HttpExchange ex) {
        String route = "other";
        int status;
        try {
            String path = ex.getRequestURI().getRawPath();
            String method = ex.getRequestMethod().toUpperCase(Locale.ROOT);
            Matcher meter = METER_QUERY.matcher(path);
            if (path.equals("/v1/events")) {
                route = "/v1/events";
                requireMethod(method, "POST");
                status = postEvents(ex, principal(ex));
            } else if (meter.matches()) {
                route = "/v1/meters/{name}/query";
                requireMethod(method, "GET");
                String tenant = principal(ex);
                String name = URLDecoder.decode(meter.group(1), StandardCharsets.UTF_8);
                Map<String, List<String>> params = RequestParams.parse(ex.getRequestURI().getRawQuery());
                String scoped = scopeTenant(tenant, params);
                if (scoped != null) {
                    params.put("tenant", List.of(scoped));
                }
                ApiBackend.Answer a = backend.meterQuery(name, params);
                status = send(ex, 200, a.contentType(), a.body());
            } else if (path.equals("/v1/sql")) {
                route = "/v1/sql";
                requireMethod(method, "POST");
                status = postSql(ex, principal(ex));
            } else if (path.equals("/v1/corrections")) {
                route = "/v1/corrections";
                if (method.equals("GET")) {
                    status = listCorrections(ex, principal(ex));
                } else {
                    requireMethod(method, "POST");
                    status = postCorrection(ex, principal(ex));
                }
            } else if (path.equals("/v1/segments")) {
                route = "/v1/segments";
                requireMethod(method, "GET");
                principal(ex);
                status = send(ex, 200, Json.bytes(Json.segments(backend.segments())));
            } else if (path.equals("/v1/dead-letters")) {
                route = "/v1/dead-letters";
                requireMethod(method, "GET");
                String tenant = principal(ex);
                Map<String, List<String>> params = RequestParams.parse(ex.getRequestURI().getRawQuery());
                int examples = DeadLetterView.examples(RequestParams.first(params, "examples"));
                status = send(ex, 200, Json.bytes(DeadLetterView.answer(backend.deadLetters(),
                        scopeTenant(tenant, params), examples)));
            } else if (path.equals("/healthz")) {
                route = "/healthz";
                requireMethod(method, "GET");
                Map<String, Object> m = Json.object();
                m.put("status", "ok");
                status = send(ex, 200, Json.bytes(m));
            } else if (path.equals("/readyz")) {
                route = "/readyz";
                requireMethod(method, "GET");
                status = readyz(ex);
            } else if (path.equals("/metrics")) {
                route = "/metrics";
                requireMethod(method, "GET");
                status = send(ex, 200, PROMETHEUS, backend.metrics().scrape(PROMETHEUS)
                        .getBytes(StandardCharsets.UTF_8));
            } else if (path.equals("/openapi.json")) {
                route = "/openapi.json";
                requireMethod(method, "GET");
                status = send(ex, 200, OpenApi.document());
            } else if (ConsoleAssets.serves(path)) {
                route = ConsoleAssets.route(path);
                requireMethod(method, "GET");
                status = ConsoleAssets.send(ex, path);
            } else {
                throw new ApiException(404, "not_found", "no endpoint " + path + "; see GET /openapi.json for the list");
            }
        } catch (ApiException e) {
            status = sendError(ex, e.status(), e.code(), e.getMessage(), e.extra(), e.status() == 405
                    ? Optional.of(e.extra().getOrDefault("allow", "").toString()) : Optional.empty());
        } catch (StoreException e) {
            log.warn("{} {}: {}", ex.getRequestMethod(), route, e.getMessage());
            // Engine text is already redacted by the store; server paths are cut here as a second guard.
            status = sendError(ex, 503, "store_unavailable", EngineErrors.scrubPaths(e.getMessage()), Map.of(),
                    Optional.empty());
        } catch (RuntimeException e) {
            // The details go to the log only: an exception's text can name internals a client must not see.
            String incident = Long.toHexString(java.util.concurrent.ThreadLocalRandom.current().nextLong());
            log.error("{} {} failed (incident {})", ex.getRequestMethod(), route, incident, e);
            status = sendError(ex, 500, "internal", "internal error; the worker's log has the details under incident "
                    + incident, Map.of(), Optional.empty());
        } catch (IOException e) {
            log.debug("{} {}: the client went away: {}", ex.getRequestMethod(), route, e.toString());
            status = 499;
        } finally {
            ex.close();
        }
        countRequest(route, status);
    }

    private static void requireMethod(String method, String allowed) {
        if (!method.equals(allowed)) {
            throw new ApiException(405, "method_not_allowed", method + " is not allowed here; use " + allowed,
                    Map.of("allow", allowed));
        }
    }

    // ---------------------------------------------------------------- endpoints

    private int postEvents(HttpExchange ex, String tenant) throws IOException {
        if (stopping) {
            throw new ApiException(503, "shutting_down", "the worker is shutting down; retry against a running "
                    + "worker (nothing of this request was stored)");
        }
        byte[] body = readBody(ex);
        EventBodyParser.Parsed parsed = EventBodyParser.parse(body, ex.getRequestHeaders().getFirst("Content-Type"));
        if (tenant != null) {
            for (int i = 0; i < parsed.size(); i++) {
                var e = parsed.events().get(i);
                if (e != null && e.tenant() != null && !e.tenant().equals(tenant)) {
                    throw new ApiException(403, "forbidden", "event " + i + " is for tenant '" + e.tenant()
                            + "' but the token is for tenant '" + tenant + "'; nothing of this request was stored");
                }
            }
        }
        ApiBackend.IngestResult r = backend.ingest(parsed.events(), parsed.rejections());
        List<Map<String, Object>> rejected = new ArrayList<>();
        for (Rejection x : r.rejected()) {
            Map<String, Object> m = Json.object();
            m.put("index", x.index());
            m.put("id", x.id());
            m.put("reason", x.reason().code());
            m.put("message", x.message());
            rejected.add(m);
        }
        if (r.accepted() == 0) {
            Map<String, Object> extra = Json.object();
            extra.put("accepted", 0);
            extra.put("rejected", rejected);
            throw new ApiException(400, "no_valid_events", "none of the " + parsed.size() + " event(s) was accepted; "
                    + "see 'rejected' for each one's reason", extra);
        }
        Map<String, Object> m = Json.object();
        m.put("accepted", r.accepted());
        m.put("rejected", rejected);
        m.put("message", r.accepted() + " event(s) are durable and will be imported (duplicates by tenant and id "
                + "are dropped then)" + (rejected.isEmpty() ? "" : "; " + rejected.size() + " rejected"));
        return send(ex, 202, Json.bytes(m));
    }

    private int postSql(HttpExchange ex, String principal) throws IOException {
        byte[] body = readBody(ex);
        String type = EventBodyParser.mediaType(ex.getRequestHeaders().getFirst("Content-Type"));
        Map<String, List<String>> params = RequestParams.parse(ex.getRequestURI().getRawQuery());
        if (type.equals("application/json")) {
            // {"query": "...", "tenant": "...", "format": "...", "from": "...", "to": "..."}
            Map<?, ?> req;
            try {
                // Refused like a duplicate key in an event body: which value was meant is not knowable.
                req = Json.MAPPER.readerFor(Map.class).with(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
                        .readValue(body);
            } catch (StreamReadException e) {
                if (String.valueOf(e.getOriginalMessage()).startsWith("Duplicate field")) {
                    throw ApiException.badRequest("duplicate_key", "the body has a field twice: "
                            + e.getOriginalMessage() + "; nothing ran");
                }
                throw ApiException.badRequest("invalid_json", "the body is not a JSON object: " + e.getOriginalMessage());
            } catch (IOException e) {
                throw ApiException.badRequest("invalid_json", "the body is not a JSON object: " + e.getMessage());
            }
            if (req == null) {
                throw ApiException.badRequest("invalid_json", "the body is not a JSON object");
            }
            for (Map.Entry<?, ?> e : req.entrySet()) {
                String k = String.valueOf(e.getKey());
                if (!List.of("query", "tenant", "format", "from", "to").contains(k)) {
                    throw ApiException.badRequest("invalid_request", "unknown field '" + k + "' (allowed: query, "
                            + "tenant, format, from, to)");
                }
                if (!(e.getValue() instanceof String v)) {
                    throw ApiException.badRequest("invalid_request", "field '" + k + "' must be a string");
                }
                params.put(k, List.of(v));
            }
        } else {
            params.put("query", List.of(new String(body, StandardCharsets.UTF_8)));
        }
        String statement = RequestParams.first(params, "query");
        if (statement == null || statement.isBlank()) {
            throw ApiException.badRequest("invalid_request", "the SQL statement is empty");
        }
        String tenant = scopeTenant(principal, params);
        if (tenant == null) {
            throw ApiException.badRequest("invalid_parameter", "tenant is required: SQL runs over one tenant's "
                    + "events (?tenant=... or \"tenant\" in the JSON body)");
        }
        String format = RequestParams.first(params, "format");
        ApiBackend.Answer answer = backend.sql(statement, tenant, RequestParams.first(params, "from"),
                RequestParams.first(params, "to"),
                format == null ? "json" : format);
        return send(ex, 200, answer.contentType(), answer.body());
    }

    /**
     * {@code POST /v1/corrections}: applied now ({@link CorrectionRoutes#post}), or with
     * {@code ?via=journal} journaled and applied by the import in journal order
     * ({@link CorrectionRoutes#journal}).
     */
    private int postCorrection(HttpExchange ex, String principal) throws IOException {
        String via = RequestParams.first(RequestParams.parse(ex.getRequestURI().getRawQuery()), "via");
        if (via != null && !via.equals("journal") && !via.equals("store")) {
            throw ApiException.badRequest("invalid_parameter", "via = '" + via + "' must be store (apply now, the "
                    + "default) or journal");
        }
        if ("journal".equals(via)) {
            return send(ex, 202, Json.bytes(CorrectionRoutes.journal(backend, readBody(ex), principal)));
        }
        return send(ex, 200, Json.bytes(CorrectionRoutes.post(backend, readBody(ex), principal)));
    }

    /** {@code GET /v1/corrections?tenant=}: the tenant's corrections, oldest first. */
    private int listCorrections(HttpExchange ex, String principal) throws IOException {
        String tenant = scopeTenant(principal, RequestParams.parse(ex.getRequestURI().getRawQuery()));
        return send(ex, 200, Json.bytes(CorrectionRoutes.list(backend, tenant)));
    }

    private int readyz(HttpExchange ex) throws IOException {
        List<String> reasons = new ArrayList<>();
        if (stopping) {
            reasons.add("shutting down");
        }
        reasons.addAll(backend.notReadyReasons());
        if (reasons.isEmpty()) {
            Map<String, Object> m = Json.object();
            m.put("status", "ready");
            return send(ex, 200, Json.bytes(m));
        }
        Map<String, Object> extra = Json.object();
        extra.put("reasons", reasons);
        return sendError(ex, 503, "not_ready", String.join("; ", reasons), extra, Optional.empty());
    }

    // ---------------------------------------------------------------- auth, body, params

    /** The caller's tenant, or null when auth is off. */
    private String principal(HttpExchange ex) {
        if (auth == null) {
            return null;
        }
        String h = ex.getRequestHeaders().getFirst("Authorization");
        if (h == null || h.isBlank()) {
            throw new ApiException(401, "unauthorized", "this endpoint needs 'Authorization: Bearer <token>'");
        }
        if (!h.regionMatches(true, 0, "Bearer ", 0, 7)) {
            throw new ApiException(401, "unauthorized", "the Authorization header must be 'Bearer <token>'");
        }
        return auth.tenant(h.substring(7).trim())
                .orElseThrow(() -> new ApiException(401, "invalid_token", "the bearer token is not known"));
    }

    /** The tenant a read is limited to: the token's, which a {@code tenant} parameter may only repeat. */
    private static String scopeTenant(String principal, Map<String, List<String>> params) {
        String asked = RequestParams.first(params, "tenant");
        if (principal == null) {
            return asked;
        }
        if (asked != null && !asked.equals(principal)) {
            throw new ApiException(403, "forbidden", "the token is for tenant '" + principal + "', not '" + asked
                    + "'");
        }
        return principal;
    }

    private byte[] readBody(HttpExchange ex) throws IOException {
        String length = ex.getRequestHeaders().getFirst("Content-Length");
        if (length != null) {
            long n;
            try {
                n = Long.parseLong(length.trim());
            } catch (NumberFormatException e) {
                throw ApiException.badRequest("invalid_request", "Content-Length '" + length + "' is not a number");
            }
            if (n > maxRequestBytes) {
                throw tooLarge(n);
            }
        }
        try (InputStream in = ex.getRequestBody()) {
            byte[] body = in.readNBytes((int) Math.min(Integer.MAX_VALUE - 8, maxRequestBytes + 1));
            if (body.length > maxRequestBytes) {
                throw tooLarge(-1);
            }
            return body;
        }
    }

    private ApiException tooLarge(long size) {
        Map<String, Object> extra = Json.object();
        extra.put("max_request_bytes", maxRequestBytes);
        return new ApiException(413, "request_too_large", "the request body " + (size >= 0 ? "of " + size + " bytes "
                : "") + "is larger than http.max-request-bytes = " + maxRequestBytes + " bytes; split it into smaller "
                + "requests", extra);
    }

    // ---------------------------------------------------------------- responses

    private static int send(HttpExchange ex, int status, byte[] json) throws IOException {
        return send(ex, status, JSON, json);
    }

    private static int send(HttpExchange ex, int status, String contentType, byte[] body) throws IOException {
        ex.getResponseHeaders().set("Content-Type", contentType);
        ex.getResponseHeaders().set("Cache-Control", "no-store");
        ex.sendResponseHeaders(status, body.length == 0 ? -1 : body.length);
        if (body.length > 0) {
            try (OutputStream out = ex.getResponseBody()) {
                out.write(body);
            }
        }
        return status;
    }

    private int sendError(HttpExchange ex, int status, String code, String message, Map<String, Object> extra,
            Optional<String> allow) {
        Map<String, Object> fields = new LinkedHashMap<>(extra);
        fields.remove("allow");
        try {
            if (status == 401) {
                ex.getResponseHeaders().set("WWW-Authenticate", "Bearer realm=\"tally\"");
            }
            if (status == 429) {
                ex.getResponseHeaders().set("Retry-After", String.valueOf(fields.getOrDefault("retry_after", 1)));
            }
            allow.filter(a -> !a.isEmpty()).ifPresent(a -> ex.getResponseHeaders().set("Allow", a));
            return send(ex, status, Json.bytes(Json.error(code, message, fields)));
        } catch (IOException e) {
            log.debug("could not send a {} response: {}", status, e.toString());
            return status;
        }
    }
}
