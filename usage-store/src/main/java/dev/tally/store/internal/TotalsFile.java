package dev.tally.store.internal;

import dev.tally.store.read.TotalsFormat;
import dev.tally.store.io.FileSync;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The per-subject totals of one hourly rollup part, saved beside it ({@code <part>.parquet.totals},
 * in {@link TotalsFormat}): one entry per tenant, type, subject and property with the part's whole
 * count, sum, min and max, sorted by tenant, type and subject. A question with one window that
 * holds the part wholly (a monthly total over a compacted month) finds a subject's few entries by
 * a binary search, without the query engine, instead of reading the part's hourly rows: a compacted
 * month of the benchmark's workload (1,000 subjects, every subject-hour present) has about 2.8M
 * hourly rows in row groups of 32,768, and a subject's answer decoded one or two whole row groups
 * of them; its totals are about 4,000 entries.
 *
 * <p>Written like a part: {@code .tmp}, force, read back and verified (every checksum, the order,
 * and the event count, which must equal the part's), atomic rename, directory fsync, before the
 * part is published, so a published part's totals are complete or absent. They are an
 * optimisation, never the only copy: a part without them (a store from before them, a sum too
 * large for {@code DECIMAL(38,9)} over a whole part, a write that failed, a file that fails a
 * checksum when read) is read from its hourly rows. Totals whose part the manifest does not name
 * are deleted by recovery (pass 5b), and they are deleted with their part.
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
        String why;
        try (TotalsFormat.Writer w = new TotalsFormat.Writer(FileSync.open(tmp, StandardOpenOption.CREATE_NEW,
                StandardOpenOption.WRITE))) {
            try (ResultSet rs = s.executeQuery("SELECT tenant, type, subject, property, sum(value_count)::BIGINT, "
                    + "sum(value_sum)::DECIMAL(38,9), min(value_min), max(value_max) FROM " + rollupSource
                    + " GROUP BY ALL ORDER BY tenant, type, subject, property NULLS FIRST")) {
                while (rs.next()) {
                    w.add(new TotalsFormat.Entry(rs.getString(1), rs.getString(2), rs.getString(3), rs.getString(4),
                            rs.getLong(5), rs.getBigDecimal(6), rs.getBigDecimal(7), rs.getBigDecimal(8)));
                }
            }
            w.finish();
            why = null;
        } catch (SQLException | IllegalArgumentException | ArithmeticException e) {
            // A sum over a whole part can exceed DECIMAL(38,9) where every hourly sum fits; the
            // engine's order could differ from the format's, which the writer refuses.
            why = e.getMessage();
        }
        if (why == null) {
            why = verify(tmp, events);
        }
        if (why != null) {
            Files.deleteIfExists(tmp);
            log.warn("no totals for {} ({}); the part is read from its hourly rows", target.getFileName(), why);
            return false;
        }
        FileSync.moveAtomically(tmp, target);
        return true;
    }

    /** Reads the written file back whole; null when it is sound and counts {@code events}, else why not. */
    private static String verify(Path tmp, long events) throws IOException {
        try {
            long counted = TotalsFormat.check(tmp);
            return counted == events ? null : "they count " + counted + " events, the part " + events;
        } catch (TotalsFormat.DamagedException e) {
            return e.getMessage();
        }
    }
}
