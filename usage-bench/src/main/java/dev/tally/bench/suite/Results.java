package dev.tally.bench.suite;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The figures of one suite run: {@code key=value} lines, appended as soon as each is measured,
 * so a workload that fails or times out still leaves what it measured before. Keys are dotted
 * ({@code ingest.store.1000000.events_per_s}); a later line for the same key wins.
 */
public final class Results {
    private final Path file;

    public Results(Path file) {
        this.file = file;
    }

    public void put(String key, Object value) {
        String v = value instanceof Double d ? String.format(Locale.ROOT, "%.6g", d) : String.valueOf(value);
        String line = key + "=" + v.replace('\n', ' ') + "\n";
        try {
            Files.writeString(file, line, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        System.out.print(line);
        System.out.flush();
    }

    /** Every key of {@code file} (missing file: empty), later lines winning. */
    public static Map<String, String> read(Path file) throws IOException {
        Map<String, String> out = new LinkedHashMap<>();
        if (!Files.exists(file)) {
            return out;
        }
        List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        for (String l : lines) {
            int eq = l.indexOf('=');
            if (eq > 0 && !l.startsWith("#")) {
                out.put(l.substring(0, eq).trim(), l.substring(eq + 1).trim());
            }
        }
        return out;
    }
}
