package dev.tally.catalog;

import dev.tally.store.internal.PartKind;
import org.apache.iceberg.Schema;
import org.apache.iceberg.types.Types;

/**
 * The two Iceberg tables and their schemas. Field ids are the ones the sealer writes into every
 * Parquet part ({@code FIELD_IDS} of its COPY), so engines map columns by id and a part is
 * registered as it is, never rewritten. Every column is optional because the Parquet columns
 * are (DuckDB writes them so); the store itself never writes a null where the table below says
 * the column is a key.
 *
 * <p>Thread-safe: immutable.
 */
public enum TallyTable {
    /** Every stored event, one detail part per sealed segment and UTC day (or per compacted ISO week). */
    EVENTS("usage_events", PartKind.DETAIL, 6, new Schema(
            Types.NestedField.optional(1, "tenant", Types.StringType.get()),
            Types.NestedField.optional(2, "id", Types.StringType.get()),
            Types.NestedField.optional(3, "type", Types.StringType.get()),
            Types.NestedField.optional(4, "subject", Types.StringType.get()),
            Types.NestedField.optional(5, "source", Types.StringType.get()),
            Types.NestedField.optional(6, "time", Types.TimestampType.withZone()),
            Types.NestedField.optional(7, "data", Types.StringType.get()),
            Types.NestedField.optional(8, "key_hash", Types.LongType.get()))),
    /**
     * Hourly rollups, one part per sealed segment and UTC day (or per compacted UTC month): per
     * tenant, type, subject and hour a row with {@code property} null holding the event count, and
     * one row per numeric property with its count, exact sum, min and max.
     */
    ROLLUPS("usage_rollups_hourly", PartKind.ROLLUP, 4, new Schema(
            Types.NestedField.optional(1, "tenant", Types.StringType.get()),
            Types.NestedField.optional(2, "type", Types.StringType.get()),
            Types.NestedField.optional(3, "subject", Types.StringType.get()),
            Types.NestedField.optional(4, "hour", Types.TimestampType.withZone()),
            Types.NestedField.optional(5, "property", Types.StringType.get()),
            Types.NestedField.optional(6, "value_count", Types.LongType.get()),
            Types.NestedField.optional(7, "value_sum", Types.DecimalType.of(38, 9)),
            Types.NestedField.optional(8, "value_min", Types.DecimalType.of(38, 9)),
            Types.NestedField.optional(9, "value_max", Types.DecimalType.of(38, 9))));

    private final String tableName;
    private final PartKind kind;
    private final int timeFieldId;
    private final Schema schema;

    TallyTable(String tableName, PartKind kind, int timeFieldId, Schema schema) {
        this.tableName = tableName;
        this.kind = kind;
        this.timeFieldId = timeFieldId;
        this.schema = schema;
    }

    /** The table's name in its namespace. */
    public String tableName() {
        return tableName;
    }

    /** The kind of store part this table holds. */
    public PartKind kind() {
        return kind;
    }

    /** The id of the UTC time column the table is partitioned by. */
    public int timeFieldId() {
        return timeFieldId;
    }

    /** The time column's name. */
    public String timeColumn() {
        return schema.findField(timeFieldId).name();
    }

    public Schema schema() {
        return schema;
    }

    /** The table that holds parts of {@code kind}. */
    public static TallyTable of(PartKind kind) {
        return kind == PartKind.DETAIL ? EVENTS : ROLLUPS;
    }
}
