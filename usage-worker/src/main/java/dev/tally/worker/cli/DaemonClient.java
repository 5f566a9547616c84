package dev.tally.worker.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tally.store.SegmentInfo;
import dev.tally.worker.config.WorkerConfig;
import dev.tally.worker.daemon.RuntimeFile;
import dev.tally.worker.config.ShardMap;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Reaches the worker running on a data directory through its HTTP API. DuckDB lets only one
 * process open the active segment, so while {@code run} holds the store, the read commands
 * ({@code segments}, {@code query}, {@code sql}) ask the running worker instead of opening the
 * files; they find its address in {@code worker.json} in the data directory.
 */
final class DaemonClient {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    private final String url;
    private final String token;
    private final String who;

    private DaemonClient(String url, String token, String who) {
        this.url = url;
        this.token = token;
        this.who = who;
    }

    /**
     * A client for the worker that owns {@code tenant}: with a shard map ({@code shard.map-file})
     * and a tenant another worker owns, that worker's API at its base URL from the map; otherwise
     * as {@link #find}.
     *
     * @throws CommandException (exit 2) when the map gives the tenant to no worker
     */
    static Optional<DaemonClient> forTenant(WorkerConfig config, String tenant, String token, String command) {
        Optional<ShardMap> shards = config.shards();
        if (shards.isPresent() && tenant != null && !shards.get().ownsHere(tenant)) {
            ShardMap map = shards.get();
            ShardMap.Member owner = map.owner(tenant).orElseThrow(() -> new CommandException(ExitCodes.USAGE,
                    map.refusal(tenant).orElseThrow()));
            return Optional.of(new DaemonClient(owner.url(), token, "worker '" + owner.id() + "', which owns tenant '"
                    + tenant + "',"));
        }
        return find(config.dataDir(), token, command);
    }

    /**
     * A client for the worker running on {@code dataDir}, or empty when none runs there.
     *
     * @throws CommandException (exit 4) when a worker runs but its API is off
     */
    static Optional<DaemonClient> find(Path dataDir, String token, String command) {
        Optional<RuntimeFile.Info> info = RuntimeFile.running(dataDir);
        if (info.isEmpty()) {
            return Optional.empty();
        }
        if (info.get().url() == null) {
            throw new CommandException(ExitCodes.STORE, "a worker is running on " + dataDir + (info.get().pid() > 0
                    ? " (pid " + info.get().pid() + ")" : "") + " without its HTTP API, and it holds the store; '"
                    + command + "' needs one of the two. Stop the worker, or run it with http.port set");
        }
        return Optional.of(new DaemonClient(info.get().url(), token, "worker running on this data directory"));
    }

    String url() {
        return url;
    }

    HttpResponse<byte[]> get(String pathAndQuery) {
        return send(HttpRequest.newBuilder(URI.create(url + pathAndQuery)).GET());
    }

    HttpResponse<byte[]> post(String pathAndQuery, String contentType, String body) {
        return send(HttpRequest.newBuilder(URI.create(url + pathAndQuery)).header("Content-Type", contentType)
                .POST(HttpRequest.BodyPublishers.ofString(body)));
    }

    /** The segment list of the running worker. */
    List<SegmentInfo> segments() {
        JsonNode root = json(get("/v1/segments"));
        List<SegmentInfo> out = new ArrayList<>();
        for (JsonNode s : root.path("segments")) {
            out.add(new SegmentInfo(SegmentInfo.State.valueOf(s.path("state").asText()), s.path("seq").asLong(),
                    s.path("path").asText(), time(s.get("min_time")), time(s.get("max_time")), s.path("rows").asLong(),
                    s.path("bytes").asLong()));
        }
        return out;
    }

    private static Instant time(JsonNode n) {
        return n == null || n.isNull() ? null : Instant.parse(n.asText());
    }

    static JsonNode json(HttpResponse<byte[]> r) {
        try {
            return JSON.readTree(r.body());
        } catch (IOException e) {
            throw new CommandException(ExitCodes.STORE, "the running worker sent an answer that is not JSON: "
                    + e.getMessage());
        }
    }

    private HttpResponse<byte[]> send(HttpRequest.Builder b) {
        b.timeout(Duration.ofMinutes(2));
        if (token != null && !token.isBlank()) {
            b.header("Authorization", "Bearer " + token);
        }
        HttpResponse<byte[]> r;
        try {
            r = HTTP.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
        } catch (IOException e) {
            throw new CommandException(ExitCodes.STORE, "the " + who + " does not answer at " + url + ": " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CommandException(ExitCodes.FATAL, "interrupted");
        }
        if (r.statusCode() / 100 != 2) {
            String message;
            try {
                JsonNode err = JSON.readTree(r.body());
                message = err.path("message").asText(new String(r.body(), java.nio.charset.StandardCharsets.UTF_8));
            } catch (IOException e) {
                message = new String(r.body(), java.nio.charset.StandardCharsets.UTF_8);
            }
            String hint = r.statusCode() == 401 ? " (the worker requires a token: pass --token or set TALLY_TOKEN)" : "";
            throw new CommandException(r.statusCode() >= 500 ? ExitCodes.STORE : ExitCodes.USAGE,
                    message + hint + " [HTTP " + r.statusCode() + " from the " + who + " at " + url + "]");
        }
        return r;
    }
}
