package dev.tally.store.sql;

import dev.tally.store.correct.CorrectedView;
import dev.tally.store.correct.CorrectionLog;
import dev.tally.store.engine.TimeUtil;
import dev.tally.store.engine.Engine;
import dev.tally.store.read.PartFile;
import dev.tally.store.read.ReadView;
import dev.tally.store.read.SegmentSource;
import dev.tally.store.read.StoreReader;
import dev.tally.store.read.TierSql;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Properties;
import java.util.stream.Stream;
import org.duckdb.DuckDBConnection;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Builds a sandbox's database file: copies one tenant's events and hourly rollups from every tier
 * of a pinned view (the SQL comes from {@link TierSql}), then reopens the file read-only and
 * locks the instance down. See {@link SqlSandbox} for what the sandbox guarantees.
 *
 * <p>Thread-safe: stateless.
 */
final class SandboxLoader {
    private static final Logger log = LoggerFactory.getLogger(SandboxLoader.class);
    private static final Instant NO_END = Instant.parse("9999-01-01T00:00:00Z");

    private SandboxLoader() {
    }

    /** Copies the tenant's rows into {@code db}; returns how many events. */
    static long build(StoreReader store, CorrectionLog corrections, String tenant, SandboxOptions o, Path folder,
            Path db, List<String> warnings, boolean uncorrected) throws SQLException, IOException {
        ReadView view = store.acquireView();
        List<Path> segmentExports = new ArrayList<>();
        SandboxCorrections corr = null;
        String where = TierSql.where(tenant, o.from(), o.to());
        String hourRange = (o.from() == null ? ""
                : " AND hour >= " + TimeUtil.sqlTimestamp(o.from().truncatedTo(ChronoUnit.HOURS)))
                + (o.to() == null ? "" : " AND hour < " + TimeUtil.sqlTimestamp(o.to()));
        try {
            CorrectedView fix = CorrectedView.of(corrections, view, tenant, !uncorrected);
            // 1. Active and pending segments live in the store's engine: export the tenant's rows.
            DuckDBConnection sc = store.engine().borrow();
            try (Statement s = sc.createStatement()) {
                for (SegmentSource h : view.segments()) {
                    if (h.rows() == 0) {
                        continue;
                    }
                    Path out = folder.resolve("segment-" + h.seq() + ".parquet");
                    s.execute("COPY (SELECT " + TierSql.EVENT_COLUMNS + " FROM " + fix.source(h.eventsTable()) + where
                            + ") TO " + Engine.literal(out) + " (FORMAT parquet)");
                    segmentExports.add(out);
                }
                corr = SandboxCorrections.export(s, corrections, fix, tenant, folder);
            } finally {
                store.engine().giveBack(sc);
            }
            Instant lo = o.from() == null ? Instant.EPOCH : o.from();
            Instant hi = o.to() == null ? NO_END : o.to();
            List<? extends PartFile> detail = view.detailParts(lo, hi);
            List<? extends PartFile> rollups = view.rollupParts(lo.minusSeconds(3600), hi);
            warnings.addAll(view.partialWarnings(lo, hi));
            // 2. A fresh instance of our own writes the sandbox file, under the same memory limit.
            try (Connection b = DriverManager.getConnection("jdbc:duckdb:" + db, new Properties());
                    Statement s = b.createStatement()) {
                s.execute("SET memory_limit = '" + o.memoryLimit() + "B'");
                s.execute("SET threads = " + o.threads());
                s.execute("SET TimeZone = 'UTC'");
                s.execute("SET autoinstall_known_extensions = false");
                s.execute("SET autoload_known_extensions = false");
                s.execute("CREATE TABLE usage_events (tenant VARCHAR NOT NULL, id VARCHAR NOT NULL, "
                        + "type VARCHAR NOT NULL, subject VARCHAR NOT NULL, source VARCHAR, time TIMESTAMP NOT NULL, "
                        + "data VARCHAR NOT NULL)");
                List<String> union = new ArrayList<>();
                if (!detail.isEmpty()) {
                    union.add("SELECT " + TierSql.EVENT_COLUMNS + " FROM " + corr.source(TierSql.parquet(detail, false))
                            + where);
                }
                if (corr.amended() != null) {
                    union.add("SELECT " + TierSql.EVENT_COLUMNS + " FROM " + corr.amended() + where);
                }
                if (!segmentExports.isEmpty()) {
                    union.add("SELECT " + TierSql.EVENT_COLUMNS + " FROM " + TierSql.parquetFiles(segmentExports, false));
                }
                if (!union.isEmpty()) {
                    s.execute("INSERT INTO usage_events SELECT * FROM (" + String.join(" UNION ALL ", union)
                            + ") ORDER BY time, id");
                }
                s.execute("CREATE TABLE usage_rollups_hourly (tenant VARCHAR NOT NULL, type VARCHAR NOT NULL, "
                        + "subject VARCHAR NOT NULL, hour TIMESTAMP NOT NULL, property VARCHAR, "
                        + "value_count BIGINT NOT NULL, value_sum DECIMAL(38,9), value_min DECIMAL(38,9), "
                        + "value_max DECIMAL(38,9))");
                List<String> ru = new ArrayList<>();
                if (!rollups.isEmpty()) {
                    ru.add("SELECT *, false AS corrected FROM (" + TierSql.rollups(rollups, TierSql.ROLLUP_COLUMNS, false,
                            tenant, o.from() == null ? null : o.from().truncatedTo(ChronoUnit.HOURS), o.to()) + ")");
                }
                String deltas = corr.rollupDeltas(TierSql.ROLLUP_COLUMNS, hourRange);
                if (deltas != null) {
                    ru.add(deltas);
                }
                if (!segmentExports.isEmpty()) {
                    ru.add("SELECT " + TierSql.ROLLUP_COLUMNS + ", false AS corrected FROM (" + TierSql.hourlyRollups(
                            TierSql.parquetFiles(segmentExports, false), "TIMESTAMP '0001-01-01'",
                            "TIMESTAMP '9999-01-01'", null) + ")");
                }
                if (!ru.isEmpty()) {
                    // An hour split across segments has a row per segment: merge them. An hour a correction
                    // changed keeps exact counts and sums, but its min and max are unknown (NULL): a
                    // voided value cannot be taken back out of a min.
                    s.execute("INSERT INTO usage_rollups_hourly SELECT tenant, type, subject, hour, property, "
                            + "CAST(sum(value_count) AS BIGINT), sum(value_sum), CASE WHEN bool_or(corrected) THEN NULL "
                            + "ELSE min(value_min) END, CASE WHEN bool_or(corrected) THEN NULL ELSE max(value_max) END "
                            + "FROM (" + String.join(" UNION ALL ", ru) + ") GROUP BY tenant, type, subject, hour, property "
                            + "HAVING sum(value_count) <> 0 "
                            + "ORDER BY tenant, type, subject, hour, property NULLS FIRST");
                }
                corr.createTable(s);
                s.execute("CHECKPOINT");
                try (ResultSet rs = s.executeQuery("SELECT count(*) FROM usage_events")) {
                    rs.next();
                    return rs.getLong(1);
                }
            } catch (SQLException e) {
                if (String.valueOf(e.getMessage()).contains("Out of Range Error")) {
                    // Not damage: the tenant's own values add up past DECIMAL(38,9) in some hour.
                    throw new SqlSandboxException(SqlSandboxException.Kind.OVERFLOW, "the SQL sandbox of tenant '"
                            + tenant + "' cannot be built: an hourly sum of its values (table usage_rollups_hourly, "
                            + "column value_sum) does not fit DECIMAL(38,9), more than 29 integer digits; ask with "
                            + "from/to for a range without that hour", e);
                }
                // A damaged part is quarantined here, so the next sandbox is built from the rest.
                List<PartFile> read = new ArrayList<>(detail);
                read.addAll(rollups);
                throw store.readFailure(read, e);
            }
        } finally {
            view.close();
            for (Path p : segmentExports) {
                Files.deleteIfExists(p);
            }
            if (corr != null) {
                corr.delete();
            }
        }
    }

    /** Reopens the sandbox file read-only and applies the limits, then forbids files and settings. */
    static DuckDBConnection lockedDown(Path db, Path folder, SandboxOptions o) throws SQLException, IOException {
        Path spill = Files.createDirectory(folder.resolve("spill"));
        Properties p = new Properties();
        p.setProperty("duckdb.read_only", "true");
        DuckDBConnection c = (DuckDBConnection) DriverManager.getConnection("jdbc:duckdb:" + db, p);
        try (Statement s = c.createStatement()) {
            s.execute("SET TimeZone = 'UTC'");
            s.execute("SET autoinstall_known_extensions = false");
            s.execute("SET autoload_known_extensions = false");
            s.execute("SET memory_limit = '" + o.memoryLimit() + "B'");
            s.execute("SET threads = " + o.threads());
            s.execute("SET temp_directory = " + Engine.literal(spill));
            // Spilling is allowed (large sorts) but bounded: a statement cannot fill the disk.
            s.execute("SET max_temp_directory_size = '" + 4 * o.memoryLimit() + "B'");
            s.execute("SET max_execution_time = " + Math.max(1, o.timeout().toMillis()));
            s.execute("SET enable_external_access = false");
            s.execute("SET lock_configuration = true");
        } catch (SQLException e) {
            c.close();
            throw e;
        }
        return c;
    }

    /** Deletes the sandbox's private folder and everything in it; logs what it could not delete. */
    static void deleteFolder(Path folder) {
        if (folder == null || !Files.exists(folder)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(folder)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            log.warn("could not delete the SQL sandbox folder {}: {}", folder, e.getMessage());
        }
    }
}
