package dev.tally.catalog;

/**
 * Named steps of a catalog sync where a test may stop the process (a child JVM killed there), to
 * prove that the next sync makes the catalog equal the manifest again. Production uses
 * {@link #NONE}.
 */
@FunctionalInterface
public interface CatalogCrashPoint {
    CatalogCrashPoint NONE = step -> { };

    /** The sync holds its write turn (the lock file of an SQLite catalog); nothing is read yet. */
    String LOCKED = "catalog.locked";
    /** The differences between the manifest and the catalog are known; nothing is written yet. */
    String PLANNED = "catalog.planned";
    /** A table's new metadata file is written; the catalog database does not point at it yet. */
    String METADATA_WRITTEN = "catalog.metadata-written";
    /** The detail table is committed; the rollup table is not. */
    String EVENTS_COMMITTED = "catalog.events-committed";
    /** Both tables are committed; the sync has not returned. */
    String COMMITTED = "catalog.committed";

    void at(String step);
}
