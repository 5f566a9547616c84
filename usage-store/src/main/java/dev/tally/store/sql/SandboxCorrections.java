package dev.tally.store.sql;

import dev.tally.store.correct.CorrectedView;
import dev.tally.store.correct.CorrectionLog;
import dev.tally.store.engine.Engine;
import dev.tally.store.read.TierSql;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.SQLException;
import java.sql.Statement;

/**
 * The corrections of one tenant carried into its SQL sandbox. The sandbox is a DuckDB instance
 * of its own that cannot see the store's corrections database, so the tenant's corrections are
 * exported to Parquet files in the sandbox's private folder (by the store's engine) and applied
 * there while the sandbox's tables are filled: corrected events are left out of the sealed
 * detail, amended ones added with their new values, and the hourly rollups get count and sum
 * deltas. The table {@code usage_corrections} lists the tenant's corrected events either way.
 *
 * <p>Not thread-safe: used by the one thread building a sandbox.
 */
final class SandboxCorrections {
    private final Path list;
    private final Path amended;
    private final Path originals;
    private final boolean active;

    private SandboxCorrections(Path folder, boolean active) {
        this.list = folder.resolve("corrections.parquet");
        this.amended = folder.resolve("amended.parquet");
        this.originals = folder.resolve("originals.parquet");
        this.active = active;
    }

    /** Exports the tenant's corrections with the store's engine ({@code s}); {@code fix} decides whether they apply. */
    static SandboxCorrections export(Statement s, CorrectionLog log, CorrectedView fix, String tenant, Path folder)
            throws SQLException {
        SandboxCorrections c = new SandboxCorrections(folder, fix.active());
        s.execute("COPY (SELECT c.correction_id, c.kind, c.applied_at, c.actor, c.reason, c.forced, e.tenant, e.id, e.voided, "
                + "e.type, e.subject, e.source, e.time, e.data, e.orig_type, e.orig_subject, e.orig_source, e.orig_time, "
                + "e.orig_data FROM " + CorrectionLog.ALIAS + ".main.effects e JOIN " + CorrectionLog.ALIAS
                + ".main.corrections c ON c.seq = e.seq WHERE e.tenant = " + Engine.literal(tenant)
                + " ORDER BY e.seq, e.id) TO " + Engine.literal(c.list) + " (FORMAT parquet)");
        if (c.active) {
            String a = fix.amended();
            s.execute("COPY (SELECT * FROM " + a + ") TO " + Engine.literal(c.amended) + " (FORMAT parquet)");
            s.execute("COPY (SELECT * FROM " + fix.sealedOriginals() + ") TO " + Engine.literal(c.originals)
                    + " (FORMAT parquet)");
        }
        return c;
    }

    /** {@code source} without the corrected events. */
    String source(String source) {
        if (!active) {
            return source;
        }
        return "(SELECT src_.* FROM " + source + " AS src_ ANTI JOIN (SELECT DISTINCT tenant, id FROM read_parquet("
                + Engine.literal(list) + ")) fx_ ON src_.tenant = fx_.tenant AND src_.id = fx_.id)";
    }

    /** The amended events' new values as a source, or null. */
    String amended() {
        return active ? "read_parquet(" + Engine.literal(amended) + ")" : null;
    }

    /**
     * Rollup rows to merge with the sealed rollups: the sealed originals of corrected events
     * negated, the amended events added; each marked {@code corrected}. Null when none.
     */
    String rollupDeltas(String rollupCols, String hourRange) {
        if (!active) {
            return null;
        }
        String all = "TIMESTAMP '0001-01-01'";
        String end = "TIMESTAMP '9999-01-01'";
        return "SELECT tenant, type, subject, hour, property, -value_count, -value_sum, NULL::DECIMAL(38,9), "
                + "NULL::DECIMAL(38,9), true FROM (" + TierSql.hourlyRollups("read_parquet(" + Engine.literal(originals)
                + ")", all, end, null) + ") WHERE true" + hourRange
                + " UNION ALL SELECT " + rollupCols + ", true FROM (" + TierSql.hourlyRollups("read_parquet("
                + Engine.literal(amended) + ")", all, end, null) + ") WHERE true" + hourRange;
    }

    /** Creates {@code usage_corrections} in the sandbox ({@code s} is the sandbox's own instance). */
    void createTable(Statement s) throws SQLException {
        s.execute("CREATE TABLE usage_corrections AS SELECT * FROM read_parquet(" + Engine.literal(list) + ")");
    }

    void delete() throws IOException {
        Files.deleteIfExists(list);
        Files.deleteIfExists(amended);
        Files.deleteIfExists(originals);
    }
}
