package dev.tally.worker.config;

import dev.tally.store.StoreConfig;
import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;

/**
 * Loads {@link WorkerConfig} from, in increasing precedence: the defaults, a properties file
 * ({@code --config}), environment variables ({@code TALLY_SEGMENT_MAX_BYTES=...}) and command-line
 * overrides ({@code --set key=value}, {@code --data-dir}). Every value is parsed and checked at
 * once; a bad one stops start-up with the key, the value, where it came from and why.
 *
 * <p>Thread-safe: stateless.
 */
public final class ConfigLoader {
    public static final String ENV_CONFIG = "TALLY_CONFIG";

    private ConfigLoader() {
    }

    public static WorkerConfig load(Path file, Map<String, String> env, Map<String, String> overrides) {
        Map<Setting, String> raw = new EnumMap<>(Setting.class);
        Map<Setting, String> origin = new EnumMap<>(Setting.class);
        for (Setting s : Setting.values()) {
            raw.put(s, s.defaultValue());
            origin.put(s, "default");
        }
        if (file != null) {
            Properties p = new Properties();
            try (Reader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
                p.load(r);
            } catch (NoSuchFileException e) {
                throw new ConfigException("config file " + file + " does not exist");
            } catch (IOException | IllegalArgumentException e) {
                throw new ConfigException("config file " + file + " cannot be read: " + e.getMessage());
            }
            for (String key : p.stringPropertyNames()) {
                Setting s = known(key, "config file " + file);
                raw.put(s, p.getProperty(key).trim());
                origin.put(s, "config file " + file);
            }
        }
        for (Setting s : Setting.values()) {
            String v = env.get(s.envName());
            if (v != null) {
                raw.put(s, v.trim());
                origin.put(s, "environment variable " + s.envName());
            }
        }
        for (Map.Entry<String, String> e : overrides.entrySet()) {
            Setting s = known(e.getKey(), "the command line");
            raw.put(s, e.getValue().trim());
            origin.put(s, "the command line");
        }
        Map<Setting, Object> values = new EnumMap<>(Setting.class);
        for (Setting s : Setting.values()) {
            try {
                values.put(s, parse(s, raw.get(s), env));
            } catch (ConfigException ex) {
                throw new ConfigException(ex.getMessage() + " (from " + origin.get(s) + ")");
            }
        }
        crossCheck(values, origin);
        return new WorkerConfig(values, origin, shardMap(values, origin));
    }

    private static Setting known(String key, String where) {
        Setting s = Setting.byKey(key);
        if (s == null) {
            String hint = "";
            int best = Integer.MAX_VALUE;
            for (Setting c : Setting.values()) {
                int d = distance(key, c.key());
                if (d < best) {
                    best = d;
                    hint = c.key();
                }
            }
            throw new ConfigException("unknown setting '" + key + "' in " + where
                    + (best <= 3 ? "; did you mean '" + hint + "'?" : "; see docs/configuration.md"));
        }
        return s;
    }

    static Object parse(Setting s, String v, Map<String, String> env) {
        String key = s.key();
        return switch (s.kind()) {
            case STRING -> {
                // Empty is "not set" only for a key whose default is empty (catalog.user).
                if (v.isEmpty() && !s.defaultValue().isEmpty()) {
                    throw new ConfigException(key + " must not be empty");
                }
                yield v;
            }
            case NAME -> {
                if (!v.isEmpty() && !v.matches("[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")) {
                    throw new ConfigException(key + " = '" + v + "' must be 1 to 64 letters, digits, '.', '_' or '-', "
                            + "starting with a letter or digit");
                }
                yield v.isEmpty() ? null : v;
            }
            case PATH -> v.isEmpty() ? (s == Setting.DATA_DIR ? defaultDataDir(env) : null) : Path.of(v).toAbsolutePath();
            case PATH_LIST -> {
                List<Path> out = new ArrayList<>();
                for (String part : v.split(",")) {
                    if (!part.isBlank()) {
                        out.add(Path.of(part.trim()).toAbsolutePath());
                    }
                }
                yield List.copyOf(out);
            }
            case PORT -> {
                int port;
                try {
                    port = Integer.parseInt(v);
                } catch (NumberFormatException e) {
                    throw new ConfigException(key + " = '" + v + "' is not a port number");
                }
                if (port < -1 || port > 65_535) {
                    throw new ConfigException(key + " = " + port + " is outside -1..65535");
                }
                yield port;
            }
            case DURATION -> {
                Duration d = Values.duration(key, v);
                if (d.isZero()) {
                    throw new ConfigException(key + " = '" + v + "' must be positive");
                }
                yield d;
            }
            case SIZE -> Values.size(key, v);
            case COUNT -> {
                long n;
                try {
                    n = Long.parseLong(v);
                } catch (NumberFormatException e) {
                    throw new ConfigException(key + " = '" + v + "' is not a whole number");
                }
                yield n;
            }
            case FSYNC -> {
                if (v.equals("per-batch")) {
                    yield new WorkerConfig.FsyncMode(true, null);
                }
                if (v.startsWith("interval:")) {
                    Duration d = Values.duration(key, v.substring("interval:".length()));
                    if (d.isZero() || d.compareTo(Duration.ofSeconds(10)) > 0) {
                        throw new ConfigException(key + " = '" + v + "': the interval must be 1ms to 10s");
                    }
                    yield new WorkerConfig.FsyncMode(false, d);
                }
                throw new ConfigException(key + " = '" + v + "' must be per-batch or interval:<duration>");
            }
            case LOG_FORMAT -> {
                if (!v.equals("text") && !v.equals("json")) {
                    throw new ConfigException(key + " = '" + v + "' must be text or json");
                }
                yield v;
            }
            case LOG_LEVEL -> {
                String level = Values.lower(v);
                if (!List.of("error", "warn", "info", "debug", "trace").contains(level)) {
                    throw new ConfigException(key + " = '" + v + "' must be one of error, warn, info, debug, trace");
                }
                yield level;
            }
        };
    }

    private static void crossCheck(Map<Setting, Object> v, Map<Setting, String> origin) {
        range(v, origin, Setting.IMPORT_BATCH_SIZE, 1, 100_000);
        range(v, origin, Setting.DLQ_MAX_ATTEMPTS, 1, 100);
        range(v, origin, Setting.CACHE_SEGMENT_ENTRIES, 0, 10_000_000);
        range(v, origin, Setting.SEGMENT_MAX_BYTES, 1L << 20, 1L << 40);
        range(v, origin, Setting.JOURNAL_MAX_BYTES, 1L << 16, 1L << 40);
        range(v, origin, Setting.IMPORT_MAX_LINE_BYTES, 1L << 10, 1L << 30);
        range(v, origin, Setting.HTTP_MAX_REQUEST_BYTES, 1L << 10, 1L << 30);
        range(v, origin, Setting.HTTP_THREADS, 1, 256);
        range(v, origin, Setting.SQL_MEMORY_LIMIT, 16L << 20, 64L << 30);
        range(v, origin, Setting.SQL_MAX_ROWS, 1, 1_000_000);
        range(v, origin, Setting.SQL_MAX_RESULT_BYTES, 1L << 10, 1L << 30);
        range(v, origin, Setting.SQL_MAX_CONCURRENT, 1, 64);
        range(v, origin, Setting.HTTP_MAX_CONNECTIONS, 1, 100_000);
        range(v, origin, Setting.HTTP_MAX_HEADER_BYTES, 1L << 10, 1L << 20);
        if ((v.get(Setting.HTTP_TLS_KEYSTORE) == null) != (v.get(Setting.HTTP_TLS_KEYSTORE_PASSWORD_FILE) == null)) {
            throw new ConfigException("http.tls.keystore and http.tls.keystore-password-file go together: set both "
                    + "for HTTPS, or neither for cleartext HTTP");
        }
        range(v, origin, Setting.CATALOG_SNAPSHOTS_KEPT, 1, 10_000);
        CatalogConfig.checkUri((String) v.get(Setting.CATALOG_URI), origin.get(Setting.CATALOG_URI));
        Duration detail = (Duration) v.get(Setting.RETENTION_DETAIL);
        Duration rollups = (Duration) v.get(Setting.RETENTION_ROLLUPS);
        Duration maxAge = (Duration) v.get(Setting.EVENTS_MAX_AGE);
        // The rules between store settings are StoreConfig's; this only words them in setting keys.
        List<StoreConfig.CrossCheck> problems = StoreConfig.crossCheck(detail, rollups, maxAge);
        if (!problems.isEmpty()) {
            StoreConfig.CrossCheck broken = problems.get(0);
            throw new ConfigException(switch (broken) {
                case MAX_EVENT_AGE_OVER_DETAIL_RETENTION -> "events.max-age = " + Values.format(maxAge) + " (from "
                        + origin.get(Setting.EVENTS_MAX_AGE) + ") is longer than retention.detail = "
                        + Values.format(detail);
                case ROLLUPS_SHORTER_THAN_DETAIL -> "retention.rollups = " + Values.format(rollups) + " (from "
                        + origin.get(Setting.RETENTION_ROLLUPS) + ") is shorter than retention.detail = "
                        + Values.format(detail);
            } + ": " + broken.why());
        }
    }

    /** The shard map, read and checked now so a bad one stops start-up; null when sharding is off. */
    private static ShardMap shardMap(Map<Setting, Object> v, Map<Setting, String> origin) {
        String id = (String) v.get(Setting.SHARD_ID);
        Path file = (Path) v.get(Setting.SHARD_MAP_FILE);
        if (id == null && file == null) {
            return null;
        }
        if (id == null || file == null) {
            throw new ConfigException("shard.id and shard.map-file go together: set both to split tenants between "
                    + "workers, or neither (shard.id from " + origin.get(Setting.SHARD_ID) + ", shard.map-file from "
                    + origin.get(Setting.SHARD_MAP_FILE) + ")");
        }
        try {
            return ShardMap.load(file, id, Setting.SHARD_MAP_FILE.key());
        } catch (ConfigException e) {
            throw new ConfigException(e.getMessage() + " (from " + origin.get(Setting.SHARD_MAP_FILE) + ")");
        }
    }

    private static void range(Map<Setting, Object> v, Map<Setting, String> origin, Setting s, long min, long max) {
        long n = (Long) v.get(s);
        if (n < min || n > max) {
            throw new ConfigException(s.key() + " = " + n + " (from " + origin.get(s) + ") is outside " + min + ".." + max);
        }
    }

    /** {@code $XDG_DATA_HOME/tally}, else {@code ~/.local/share/tally}. */
    public static Path defaultDataDir(Map<String, String> env) {
        String xdg = env.get("XDG_DATA_HOME");
        if (xdg != null && !xdg.isBlank()) {
            return Path.of(xdg, "tally").toAbsolutePath();
        }
        return Path.of(System.getProperty("user.home"), ".local", "share", "tally").toAbsolutePath();
    }

    private static int distance(String a, String b) {
        int[] prev = new int[b.length() + 1];
        int[] cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            prev[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
                cur[j] = Math.min(Math.min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + cost);
            }
            int[] t = prev;
            prev = cur;
            cur = t;
        }
        return prev[b.length()];
    }
}
