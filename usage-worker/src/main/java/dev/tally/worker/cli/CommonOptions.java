package dev.tally.worker.cli;

import dev.tally.worker.config.ConfigLoader;
import dev.tally.worker.config.Setting;
import dev.tally.worker.config.WorkerConfig;
import dev.tally.worker.logging.Logging;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import picocli.CommandLine.Option;

/** Options every command takes: where the data is and how the worker is configured. */
public final class CommonOptions {
    @Option(names = "--data-dir", paramLabel = "DIR",
            description = "Data directory (default: $XDG_DATA_HOME/tally or ~/.local/share/tally).")
    Path dataDir;

    @Option(names = "--config", paramLabel = "FILE",
            description = "Properties file with settings (see docs/configuration.md); also $TALLY_CONFIG.")
    Path config;

    @Option(names = "--token", paramLabel = "TOKEN",
            description = "Bearer token for a running worker's API (read commands go through it while it runs); "
                    + "also $TALLY_TOKEN.")
    String token;

    @Option(names = "--set", paramLabel = "KEY=VALUE", description = "Override one setting, e.g. --set segment.max-bytes=16MiB.")
    Map<String, String> overrides = new LinkedHashMap<>();

    /**
     * Loads the configuration (defaults, file, environment, then these flags) and applies its
     * logging settings.
     */
    public WorkerConfig load() {
        WorkerConfig config = loadOnly();
        Logging.apply(config);
        return config;
    }

    /**
     * Like {@link #load()} for commands whose output is the answer (segments, query, sql, dlq
     * list): logs only warnings and errors unless log.level was set explicitly.
     */
    public WorkerConfig loadQuiet() {
        WorkerConfig config = loadOnly();
        boolean explicit = !config.origin(Setting.LOG_LEVEL).equals("default");
        Logging.apply(config.logFormat(), explicit ? config.string(Setting.LOG_LEVEL) : "warn");
        return config;
    }

    /** The API token: {@code --token}, else {@code $TALLY_TOKEN}, else null. */
    public String token() {
        return token != null ? token : System.getenv("TALLY_TOKEN");
    }

    /** Whether {@code --data-dir} was given on the command line. */
    public boolean dataDirGiven() {
        return dataDir != null;
    }

    /** Loads the configuration without touching logging. */
    public WorkerConfig loadOnly() {
        Map<String, String> env = System.getenv();
        Map<String, String> flags = new LinkedHashMap<>(overrides);
        if (dataDir != null) {
            flags.put(Setting.DATA_DIR.key(), dataDir.toString());
        }
        Path file = config;
        if (file == null && env.get(ConfigLoader.ENV_CONFIG) != null) {
            file = Path.of(env.get(ConfigLoader.ENV_CONFIG));
        }
        return ConfigLoader.load(file, env, flags);
    }
}
