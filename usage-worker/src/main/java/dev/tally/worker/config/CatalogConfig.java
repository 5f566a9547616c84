package dev.tally.worker.config;

import dev.tally.catalog.CatalogSettings;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * The {@code catalog.*} settings as {@link CatalogSettings}: off, the SQLite file in the data
 * directory, or a JDBC URL (PostgreSQL for a catalog shared by several workers).
 *
 * <p>Thread-safe: stateless.
 */
public final class CatalogConfig {
    /** {@code catalog.uri} value for no catalog. */
    public static final String OFF = "off";
    /** {@code catalog.uri} value for the SQLite catalog in the data directory. */
    public static final String SQLITE = "sqlite";

    private CatalogConfig() {
    }

    static void checkUri(String uri, String origin) {
        if (uri.equals(OFF) || uri.equals(SQLITE) || uri.startsWith("jdbc:sqlite:") || uri.startsWith("jdbc:postgresql:")) {
            return;
        }
        throw new ConfigException("catalog.uri = '" + CatalogSettings.redact(uri) + "' (from " + origin
                + ") must be off, sqlite, jdbc:sqlite:PATH or jdbc:postgresql://HOST:PORT/DB");
    }

    /** The catalog settings, or empty when {@code catalog.uri} is off; reads the password file. */
    public static Optional<CatalogSettings> settings(WorkerConfig config) {
        String uri = config.string(Setting.CATALOG_URI);
        if (uri.equals(OFF)) {
            return Optional.empty();
        }
        Path dataDir = config.dataDir();
        CatalogSettings s = CatalogSettings.defaults(dataDir);
        String user = config.string(Setting.CATALOG_USER);
        String password = null;
        Path passwordFile = config.path(Setting.CATALOG_PASSWORD_FILE);
        if (passwordFile != null) {
            try {
                password = Files.readAllLines(passwordFile, StandardCharsets.UTF_8).stream().findFirst().orElse("");
            } catch (IOException e) {
                throw new ConfigException("catalog.password-file = " + passwordFile + ": cannot read it (" + e + ")");
            }
        }
        try {
            if (!uri.equals(SQLITE)) {
                s = s.withUri(uri, user.isEmpty() ? null : user, password);
            }
            Path warehouse = config.path(Setting.CATALOG_WAREHOUSE);
            if (warehouse != null) {
                s = s.withWarehouse(warehouse);
            }
            return Optional.of(s.withNames(CatalogSettings.DEFAULT_CATALOG_NAME, config.string(Setting.CATALOG_NAMESPACE))
                    .withSnapshotExpiry(config.duration(Setting.CATALOG_SNAPSHOT_RETENTION),
                            config.count(Setting.CATALOG_SNAPSHOTS_KEPT)));
        } catch (IllegalArgumentException e) {
            throw new ConfigException(e.getMessage());
        }
    }
}
