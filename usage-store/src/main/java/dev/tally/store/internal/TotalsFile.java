package dev.tally.store.internal;

import dev.tally.store.engine.Engine;
import dev.tally.store.io.FileSync;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The per-subject totals of one hourly rollup part, saved beside it
 * ({@code <part>.parquet.totals}, itself a Parquet file): one row per tenant, type, subject and
 * property with the part's whole count, sum, min and max, in {@link SegmentSchema#PART_ROLLUP_COLUMNS}
 * without {@code hour}. A question with one window that holds the part wholly (a monthly total
 * over a compacted month) reads these few rows instead of the part's hourly ones: a compacted
 * month of the benchmark's workload (1,000 subjects, every subject-hour present) has about 2.8M
 * hourly rows in row groups of 32,768, and a subject's answer decoded one or two whole row groups
 * of them; its totals are about 4,000 rows.
 *
 * <p>Written like a part: {@code .tmp}, force, verified (its event count must equal the part's),
 * atomic rename, directory fsync, before the part is published, so a published part's totals are
 * complete or absent. They are an optimisation, never the only copy: a part without them (a
 * store from before them, a sum too large for {@code DECIMAL(38,9)} over a whole part, a write
 * that failed) is read from its hourly rows. Totals whose part the manifest does not name are
 * deleted by recovery (pass 5b), and they are deleted with their part.
 *
 * <p>Thread-safe: stateless.
 */
public final class TotalsFile {
    private static final Logger log = LoggerFactory.getLogger(TotalsFile.class);

    /** The suffix after the part's own file name. */
    public static final String SUFFIX = ".totals";

    private TotalsFile() {
    }

    /** The totals of a rollup part file. */
    public static Path of(Path partFile) {
        return partFile.resolveSibling(partFile.getFileName() + SUFFIX);
    }

    /**
     * Writes the totals of the rollup rows in {@code rollupSource} (a {@code read_parquet} of
     * the part, typically its {@code .tmp} before the rename) durably to {@code target}. Returns
     * false, leaving no file, when they cannot be written or do not count {@code events}; the part
     * is then read from its hourly rows.
     */
    static boolean write(Statement s, String rollupSource, Path target, long events) throws IOException {
        // A part rewritten under the same name (a seal or compaction that crashed before its
        // publish) must not keep totals of its earlier content, not even after a crash.
        FileSync.deleteDurably(target);
        Path tmp = target.resolveSibling(target.getFileName() + SegmentFiles.TMP_SUFFIX);
        Files.deleteIfExists(tmp);
        try {
            s.execute("COPY (SELECT tenant, type, subject, property, sum(value_count)::BIGINT AS value_count, "
                    + "sum(value_sum)::DECIMAL(38,9) AS value_sum, min(value_min) AS value_min, "
                    + "max(value_max) AS value_max FROM " + rollupSource + " GROUP BY ALL "
                    + "ORDER BY tenant, type, subject, property NULLS FIRST) TO " + Engine.literal(tmp)
                    + " (FORMAT parquet, COMPRESSION snappy, ROW_GROUP_SIZE " + Sealer.ROLLUP_ROW_GROUP_ROWS + ")");
            FileSync.fsyncFile(tmp);
            long counted;
            try (ResultSet rs = s.executeQuery("SELECT coalesce(sum(value_count), 0) FROM read_parquet("
                    + Engine.literal(tmp) + ") WHERE property IS NULL")) {
                rs.next();
                counted = rs.getLong(1);
            }
            if (counted != events) {
                Files.deleteIfExists(tmp);
                log.warn("totals of {} count {} events, the part {}; the part is read from its hourly rows",
                        target.getFileName(), counted, events);
                return false;
            }
        } catch (SQLException e) {
            // A sum over a whole part can exceed DECIMAL(38,9) where every hourly sum fits.
            Files.deleteIfExists(tmp);
            log.warn("could not write the totals of {} ({}); the part is read from its hourly rows",
                    target.getFileName(), e.getMessage());
            return false;
        }
        FileSync.moveAtomically(tmp, target);
        return true;
    }
}
