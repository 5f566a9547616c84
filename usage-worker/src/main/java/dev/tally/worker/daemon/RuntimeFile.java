package dev.tally.worker.daemon;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * {@code <data dir>/worker.json}: where the running worker's HTTP API is, so commands started
 * next to it can reach it. Written (atomically) once the API listens and removed on a clean stop.
 * A file left by a crash is harmless: it is only believed while the store lock is held.
 */
public final class RuntimeFile {
    public static final String NAME = "worker.json";
    private static final ObjectMapper JSON = new ObjectMapper();

    /** What the file says. */
    public record Info(long pid, String url, Instant started) {
    }

    private RuntimeFile() {
    }

    static void write(Path dataDir, String url, Instant started) throws IOException {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("pid", ProcessHandle.current().pid());
        m.put("url", url);
        m.put("started", started.toString());
        Path tmp = dataDir.resolve(NAME + ".tmp");
        Files.write(tmp, JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(m));
        Files.move(tmp, dataDir.resolve(NAME), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    static void delete(Path dataDir) {
        try {
            Files.deleteIfExists(dataDir.resolve(NAME));
        } catch (IOException ignored) {
            // stale files are ignored while the lock is free
        }
    }

    /** The running worker's details, if a worker holds the store lock and left its file. */
    public static Optional<Info> running(Path dataDir) {
        if (!StoreOpener.isLocked(dataDir)) {
            return Optional.empty();
        }
        try {
            JsonNode n = JSON.readTree(dataDir.resolve(NAME).toFile());
            String url = n.hasNonNull("url") ? n.get("url").asText() : null;
            return Optional.of(new Info(n.path("pid").asLong(-1), url, Instant.parse(n.path("started").asText())));
        } catch (IOException | RuntimeException e) {
            return Optional.of(new Info(-1, null, null));
        }
    }
}
