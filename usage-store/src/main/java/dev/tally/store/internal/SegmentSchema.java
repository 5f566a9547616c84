package dev.tally.store.internal;

/**
 * The table and Parquet layouts, named once. Changing a layout means bumping
 * {@link Manifest#SCHEMA_VERSION}.
 */
final class SegmentSchema {
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

    /** Parquet field ids for the detail columns, so other engines can map columns by id. */
    static final String DETAIL_FIELD_IDS =
            "{tenant: 1, id: 2, type: 3, subject: 4, source: 5, time: 6, data: 7, key_hash: 8}";

    /** Parquet field ids for the rollup columns. */
    static final String ROLLUP_FIELD_IDS = "{tenant: 1, type: 2, subject: 3, hour: 4, property: 5, "
            + "value_count: 6, value_sum: 7, value_min: 8, value_max: 9}";

    /**
     * Hourly rollups of {@code source} rows in {@code [from, to)}: one row per tenant, type,
     * subject and hour with {@code property} NULL holding the event count, plus one row per
     * top-level numeric property with count, exact sum, min and max.
     */
    static String rollupQuery(String source, String from, String to) {
        String rows = "SELECT tenant, type, subject, date_trunc('hour', time) AS hour, data FROM " + source
                + " WHERE time >= " + from + " AND time < " + to;
        return "WITH src AS (" + rows + "), "
                + "kv AS (SELECT tenant, type, subject, hour, k AS property, "
                + "json_extract(data, '/' || replace(replace(k, '~', '~0'), '/', '~1')) AS v "
                + "FROM (SELECT *, unnest(json_keys(data)) AS k FROM src)), "
                + "nums AS (SELECT tenant, type, subject, hour, property, CAST(CAST(v AS VARCHAR) AS DECIMAL(38,9)) AS x "
                + "FROM kv WHERE json_type(v) IN ('BIGINT', 'UBIGINT', 'DOUBLE', 'HUGEINT')) "
                + "SELECT tenant, type, subject, hour, NULL::VARCHAR AS property, count(*) AS value_count, "
                + "NULL::DECIMAL(38,9) AS value_sum, NULL::DECIMAL(38,9) AS value_min, NULL::DECIMAL(38,9) AS value_max "
                + "FROM src GROUP BY ALL "
                + "UNION ALL SELECT tenant, type, subject, hour, property, count(x), sum(x), min(x), max(x) "
                + "FROM nums GROUP BY ALL "
                + "ORDER BY tenant, type, subject, hour, property NULLS FIRST";
    }
}
