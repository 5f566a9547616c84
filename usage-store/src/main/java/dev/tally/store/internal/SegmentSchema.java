package dev.tally.store.internal;

import dev.tally.store.read.TierSql;

/**
 * The table and Parquet layouts, named once. Changing a layout means bumping
 * {@link Manifest#SCHEMA_VERSION}.
 */
public final class SegmentSchema {
    private SegmentSchema() {
    }

    /** Columns of the detail table, in appender order. */
    static final String EVENT_COLUMNS = "tenant, id, type, subject, source, time, data, key_hash";

    static String createTables(String alias) {
        return "CREATE TABLE IF NOT EXISTS " + alias + ".main.usage_events ("
                + "tenant VARCHAR NOT NULL, id VARCHAR NOT NULL, type VARCHAR NOT NULL, subject VARCHAR NOT NULL, "
                + "source VARCHAR, time TIMESTAMP NOT NULL, data VARCHAR NOT NULL, key_hash BIGINT NOT NULL);\n"
                + "CREATE TABLE IF NOT EXISTS " + alias + ".main.import_positions ("
                + "source VARCHAR PRIMARY KEY, position BIGINT NOT NULL, fingerprint VARCHAR NOT NULL, "
                + "identity VARCHAR NOT NULL, updated_at TIMESTAMP NOT NULL);\n"
                + "CREATE TABLE IF NOT EXISTS " + alias + ".main.segment_meta ("
                + "seq BIGINT NOT NULL, created_at TIMESTAMP NOT NULL, schema_version INTEGER NOT NULL);";
    }

    /**
     * A UTC time column as a part writes it: a Parquet timestamp adjusted to UTC (Iceberg
     * {@code timestamptz}), because event times are UTC instants. Built from the microseconds so
     * it is exact and the same whatever the session's zone, and whether the input is a segment's
     * {@code TIMESTAMP} or an older or newer part (compaction reads both).
     */
    static String utc(String column) {
        return "timezone('UTC', make_timestamp(epoch_us(" + column + "))) AS " + column;
    }

    /** Detail columns as a part writes them ({@link #EVENT_COLUMNS} with {@code time} adjusted to UTC). */
    static final String PART_EVENT_COLUMNS = "tenant, id, type, subject, source, " + utc("time") + ", data, key_hash";

    /** Rollup columns as a part writes them ({@code hour} adjusted to UTC). */
    static final String PART_ROLLUP_COLUMNS = "tenant, type, subject, " + utc("hour")
            + ", property, value_count, value_sum, value_min, value_max";

    /** Parquet field ids for the detail columns, so other engines can map columns by id. */
    static final String DETAIL_FIELD_IDS =
            "{tenant: 1, id: 2, type: 3, subject: 4, source: 5, time: 6, data: 7, key_hash: 8}";

    /** Parquet field ids for the rollup columns. */
    static final String ROLLUP_FIELD_IDS = "{tenant: 1, type: 2, subject: 3, hour: 4, property: 5, "
            + "value_count: 6, value_sum: 7, value_min: 8, value_max: 9}";

    /** {@link #rollupQuery(String, String, String, java.util.List)} with the keys unknown. */
    public static String rollupQuery(String source, String from, String to) {
        return rollupQuery(source, from, to, null);
    }

    /** Above this many distinct top-level keys in a segment, rollups extract key by key (slower). */
    static final int MAX_ROLLUP_KEYS = TierSql.MAX_ROLLUP_KEYS;

    /** Hourly rollups of {@code source} rows in {@code [from, to)}; see {@link TierSql#hourlyRollups}. */
    static String rollupQuery(String source, String from, String to, java.util.List<String> keys) {
        return TierSql.hourlyRollups(source, from, to, keys);
    }

    /** Distinct top-level keys of {@code data} in a table, or null when there are too many to list. */
    static java.util.List<String> distinctKeys(java.sql.Statement s, String source) throws java.sql.SQLException {
        java.util.List<String> keys = new java.util.ArrayList<>();
        try (java.sql.ResultSet rs = s.executeQuery("SELECT DISTINCT unnest(json_keys(data)) AS k FROM " + source
                + " ORDER BY k LIMIT " + (MAX_ROLLUP_KEYS + 1))) {
            while (rs.next()) {
                keys.add(rs.getString(1));
            }
        }
        return keys.size() > MAX_ROLLUP_KEYS ? null : keys;
    }
}
