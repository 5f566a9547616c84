package dev.tally.catalog;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;

/**
 * Where the Iceberg catalog lives and how long it keeps old snapshots.
 *
 * <p>The default ({@link #defaults(Path)}) is Iceberg's JDBC catalog on an SQLite file inside the
 * data directory ({@code catalog/catalog.db}) with the table metadata beside it
 * ({@code catalog/warehouse}): it works with no setup. Production points {@link #uri()} at
 * PostgreSQL ({@code jdbc:postgresql://host/db}) and {@link #warehouse()} at a folder every
 * worker and reader can see.
 *
 * <p>Thread-safe: immutable.
 *
 * @param uri               JDBC URL of the catalog database ({@code jdbc:sqlite:…} or {@code jdbc:postgresql:…})
 * @param user              database user; null for none (SQLite)
 * @param password          database password; null for none
 * @param catalogName       the catalog's name, the key of its rows in the catalog database
 * @param namespace         the namespace (database) of the tables
 * @param warehouse         folder for the tables' metadata files (not the data: parts stay where the store wrote them)
 * @param snapshotRetention snapshots older than this are expired (the current one never is)
 * @param snapshotsKept     the newest this many snapshots are kept whatever their age
 */
public record CatalogSettings(
        String uri, String user, String password, String catalogName, String namespace, Path warehouse,
        Duration snapshotRetention, int snapshotsKept) {

    /** Folder inside the data directory that holds the default catalog. */
    public static final String DEFAULT_DIR = "catalog";
    /** Default catalog name. */
    public static final String DEFAULT_CATALOG_NAME = "tally";
    /** Default namespace. */
    public static final String DEFAULT_NAMESPACE = "tally";
    /** Default age past which snapshots are expired. */
    public static final Duration DEFAULT_SNAPSHOT_RETENTION = Duration.ofDays(7);
    /** Default count of snapshots kept whatever their age. */
    public static final int DEFAULT_SNAPSHOTS_KEPT = 10;

    public CatalogSettings {
        Objects.requireNonNull(uri, "uri");
        Objects.requireNonNull(catalogName, "catalogName");
        Objects.requireNonNull(namespace, "namespace");
        Objects.requireNonNull(warehouse, "warehouse");
        Objects.requireNonNull(snapshotRetention, "snapshotRetention");
        if (!uri.startsWith("jdbc:sqlite:") && !uri.startsWith("jdbc:postgresql:")) {
            throw new IllegalArgumentException("catalog uri = " + redact(uri)
                    + ": must start with jdbc:sqlite: or jdbc:postgresql:");
        }
        if (!catalogName.matches("[A-Za-z0-9_]{1,64}")) {
            throw new IllegalArgumentException("catalog name = '" + catalogName + "': use 1 to 64 letters, digits or _");
        }
        if (!namespace.matches("[A-Za-z0-9_]{1,64}")) {
            throw new IllegalArgumentException("catalog namespace = '" + namespace + "': use 1 to 64 letters, digits or _");
        }
        if (!warehouse.isAbsolute()) {
            throw new IllegalArgumentException("catalog warehouse = " + warehouse + ": must be an absolute path");
        }
        if (snapshotRetention.isNegative() || snapshotRetention.isZero()) {
            throw new IllegalArgumentException("catalog snapshot retention = " + snapshotRetention + ": must be positive");
        }
        if (snapshotsKept < 1) {
            throw new IllegalArgumentException("catalog snapshots kept = " + snapshotsKept + ": must be at least 1");
        }
    }

    /** The no-setup catalog: SQLite and metadata under {@code dataDir/catalog/}. */
    public static CatalogSettings defaults(Path dataDir) {
        Path dir = dataDir.toAbsolutePath().normalize().resolve(DEFAULT_DIR);
        return new CatalogSettings("jdbc:sqlite:" + dir.resolve("catalog.db"), null, null, DEFAULT_CATALOG_NAME,
                DEFAULT_NAMESPACE, dir.resolve("warehouse"), DEFAULT_SNAPSHOT_RETENTION, DEFAULT_SNAPSHOTS_KEPT);
    }

    public CatalogSettings withUri(String newUri, String newUser, String newPassword) {
        return new CatalogSettings(newUri, newUser, newPassword, catalogName, namespace, warehouse,
                snapshotRetention, snapshotsKept);
    }

    public CatalogSettings withWarehouse(Path newWarehouse) {
        return new CatalogSettings(uri, user, password, catalogName, namespace, newWarehouse, snapshotRetention,
                snapshotsKept);
    }

    public CatalogSettings withNames(String newCatalogName, String newNamespace) {
        return new CatalogSettings(uri, user, password, newCatalogName, newNamespace, warehouse, snapshotRetention,
                snapshotsKept);
    }

    public CatalogSettings withSnapshotExpiry(Duration retention, int kept) {
        return new CatalogSettings(uri, user, password, catalogName, namespace, warehouse, retention, kept);
    }

    /** Whether the catalog is an SQLite file (one process at a time writes it). */
    public boolean sqlite() {
        return uri.startsWith("jdbc:sqlite:");
    }

    /** The URI without a password that someone put in its query string, for messages and logs. */
    public static String redact(String uri) {
        return uri.replaceAll("(?i)(password=)[^&;]*", "$1***");
    }

    @Override
    public String toString() {
        return "CatalogSettings[uri=" + redact(uri) + ", user=" + user + ", password=" + (password == null ? "none" : "***")
                + ", catalogName=" + catalogName + ", namespace=" + namespace + ", warehouse=" + warehouse
                + ", snapshotRetention=" + snapshotRetention + ", snapshotsKept=" + snapshotsKept + "]";
    }
}
