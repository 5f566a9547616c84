package dev.tally.store.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The machine-readable result of one loop test (kill loops, race loops): a flat JSON object in
 * {@code target/reliability/<name>.json} of the module, which {@code bin/reliability-table} turns
 * into the figures table of {@code docs/reliability.md}. Fields: {@code test}, {@code run}
 * (short or long), {@code seed}, {@code kills}, {@code acknowledged}, {@code stored}, {@code lost},
 * {@code doubled}, {@code dead_letters}, {@code duration_s}, {@code commit}, {@code finished};
 * a loop without kills or dead letters writes 0.
 *
 * <p>Thread-safe: stateless.
 */
public final class RunResult {
    private RunResult() {
    }

    /** Builds the fields in a fixed order. */
    public static Map<String, Object> of(String test, String run, long seed, long kills, long acknowledged,
            long stored, long lost, long doubled, long deadLetters, long durationSeconds) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("test", test);
        m.put("run", run);
        m.put("seed", seed);
        m.put("kills", kills);
        m.put("acknowledged", acknowledged);
        m.put("stored", stored);
        m.put("lost", lost);
        m.put("doubled", doubled);
        m.put("dead_letters", deadLetters);
        m.put("duration_s", durationSeconds);
        m.put("commit", commit());
        m.put("finished", Instant.now().truncatedTo(ChronoUnit.SECONDS).toString());
        return m;
    }

    /** Writes {@code target/reliability/<name>.json} (temp file, then rename); returns its path. */
    public static Path write(String name, Map<String, Object> fields) {
        StringBuilder json = new StringBuilder("{");
        fields.forEach((k, v) -> {
            if (json.length() > 1) {
                json.append(", ");
            }
            json.append('"').append(k).append("\": ");
            if (v instanceof Number) {
                json.append(v);
            } else {
                json.append('"').append(String.valueOf(v).replace("\\", "\\\\").replace("\"", "\\\"")).append('"');
            }
        });
        json.append("}\n");
        try {
            Path dir = Files.createDirectories(Path.of("target", "reliability"));
            Path tmp = dir.resolve(name + ".json.tmp");
            Files.writeString(tmp, json, StandardCharsets.UTF_8);
            Path target = dir.resolve(name + ".json");
            Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            return target.toAbsolutePath();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The checked-out commit ({@code git rev-parse --short HEAD}), or {@code unknown}. */
    static String commit() {
        try {
            Process p = new ProcessBuilder("git", "rev-parse", "--short", "HEAD").redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            if (p.waitFor(10, TimeUnit.SECONDS) && p.exitValue() == 0 && out.matches("[0-9a-f]{4,40}")) {
                String dirty = "";
                Process d = new ProcessBuilder("git", "status", "--porcelain", "--untracked-files=no")
                        .redirectErrorStream(true).start();
                String changes = new String(d.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
                if (d.waitFor(10, TimeUnit.SECONDS) && !changes.isEmpty()) {
                    dirty = "+changes";
                }
                return out + dirty;
            }
        } catch (IOException e) {
            return "unknown";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return "unknown";
    }
}
