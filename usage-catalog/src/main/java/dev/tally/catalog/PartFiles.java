package dev.tally.catalog;

import dev.tally.store.internal.SealedPart;
import java.time.Instant;
import java.time.LocalDate;
import java.time.temporal.ChronoUnit;
import java.util.HashMap;
import java.util.Map;
import org.apache.iceberg.DataFile;
import org.apache.iceberg.DataFiles;
import org.apache.iceberg.FileFormat;
import org.apache.iceberg.Metrics;
import org.apache.iceberg.PartitionData;
import org.apache.iceberg.PartitionField;
import org.apache.iceberg.PartitionSpec;
import org.apache.iceberg.Table;
import org.apache.iceberg.types.Conversions;
import org.apache.iceberg.types.TypeUtil;
import org.apache.iceberg.types.Types;

/**
 * Describes a store part as an Iceberg data file: location, size, row count, partition and the
 * bounds of its UTC time column. Everything comes from the manifest, whose figures the sealer and
 * the compactor verified against the file (row count; {@code minTime}/{@code maxTime} are the
 * column's exact min and max), so registering a part reads nothing from it. Other column bounds are
 * left out: a missing bound only means an engine cannot skip the file, never a wrong answer.
 *
 * <p>Thread-safe: stateless.
 */
final class PartFiles {
    private PartFiles() {
    }

    static DataFile dataFile(TallyTable t, Table table, SealedPart p, String location) {
        PartitionSpec spec = specFor(t, table, p);
        PartitionData partition = new PartitionData(spec.partitionType());
        if (!spec.isUnpartitioned()) {
            String transform = spec.fields().get(0).transform().toString();
            LocalDate day = p.firstDay();
            partition.set(0, transform.equals("month")
                    ? (int) ChronoUnit.MONTHS.between(LocalDate.EPOCH, day.withDayOfMonth(1))
                    : (int) day.toEpochDay());
        }
        Map<Integer, Long> counts = new HashMap<>();
        for (Types.NestedField f : t.schema().columns()) {
            counts.put(f.fieldId(), p.rows());
        }
        Map<Integer, java.nio.ByteBuffer> lower = Map.of(t.timeFieldId(), micros(p.minTime()));
        Map<Integer, java.nio.ByteBuffer> upper = Map.of(t.timeFieldId(), micros(p.maxTime()));
        Map<Integer, Long> nulls = Map.of(t.timeFieldId(), 0L);
        Metrics metrics = new Metrics(p.rows(), null, counts, nulls, null, lower, upper);
        return DataFiles.builder(spec)
                .withPath(location)
                .withFormat(FileFormat.PARQUET)
                .withFileSizeInBytes(p.bytes())
                .withPartition(partition)
                .withMetrics(metrics)
                .build();
    }

    private static java.nio.ByteBuffer micros(Instant t) {
        long us = Math.addExact(Math.multiplyExact(t.getEpochSecond(), 1_000_000L), t.getNano() / 1_000);
        return Conversions.toByteBuffer(Types.TimestampType.withZone(), us);
    }

    /**
     * The spec of a part: day for a sealed part (one UTC day), month for a compacted rollup part
     * (one UTC month), none for a compacted detail part (one ISO week, which no transform names).
     */
    static PartitionSpec specFor(TallyTable t, Table table, SealedPart p) {
        String wanted = !p.compacted() ? "day" : t == TallyTable.ROLLUPS ? "month" : null;
        for (PartitionSpec spec : table.specs().values()) {
            if (wanted == null && spec.isUnpartitioned()) {
                return spec;
            }
            if (wanted != null && spec.fields().size() == 1) {
                PartitionField f = spec.fields().get(0);
                if (f.sourceId() == t.timeFieldId() && f.transform().toString().equals(wanted)) {
                    return spec;
                }
            }
        }
        throw new IllegalStateException("table " + table.name() + " has no partition spec by "
                + (wanted == null ? "nothing" : wanted) + " for part " + p.path() + "; specs: " + table.specs());
    }

    /** Refuses a table whose columns do not carry the field ids the parts are written with. */
    static void checkSchema(TallyTable t, Table table) {
        for (Types.NestedField f : t.schema().columns()) {
            Types.NestedField got = table.schema().findField(f.fieldId());
            if (got == null || !got.name().equals(f.name()) || !got.type().equals(f.type())) {
                throw new IllegalStateException("table " + table.name() + " column id " + f.fieldId() + " is "
                        + (got == null ? "missing" : got.name() + " " + got.type()) + ", the store writes "
                        + f.name() + " " + f.type() + " with that id; schema: " + TypeUtil.indexById(table.schema().asStruct()).size()
                        + " columns");
            }
        }
    }
}
