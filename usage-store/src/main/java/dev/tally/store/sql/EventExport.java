package dev.tally.store.sql;

import dev.tally.store.EventRules;
import dev.tally.store.StoreException;
import dev.tally.store.UsageStore;
import dev.tally.store.correct.CorrectedStore;
import dev.tally.store.correct.CorrectedView;
import dev.tally.store.engine.Engine;
import dev.tally.store.io.FileSync;
import dev.tally.store.read.ReadView;
import dev.tally.store.read.StoreReader;
import dev.tally.store.read.TierSql;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.UUID;
import org.duckdb.DuckDBConnection;

/**
 * Writes one tenant's events of a time range to a Parquet or CSV file for finance teams.
 *
 * <p>Columns: {@code tenant, id, type, subject, source, time, data}, ordered by time then id.
 * Parquet stores {@code time} as a UTC-adjusted timestamp (microseconds) and compresses with
 * zstd; CSV has a header line, writes {@code time} as ISO-8601 UTC
 * ({@code 2026-11-20T10:00:00.123456Z}) and quotes fields per RFC 4180.
 *
 * <p>The file is written under a temporary name in the target folder, forced to disk and renamed
 * into place atomically, so a reader never sees a partial export. The target must resolve inside
 * the allowed output folder (no {@code ..}, no absolute path, no symbolic link leading out) and
 * its extension must match the format. An export over days whose detail retention already
 * deleted is refused rather than written short.
 *
 * <p>Thread-safe: stateless.
 */
public final class EventExport {

    private EventExport() {
    }

    /** The file format of an export. */
    public enum Format {
        PARQUET(".parquet"),
        CSV(".csv");

        private final String extension;

        Format(String extension) {
            this.extension = extension;
        }

        public String extension() {
            return extension;
        }
    }

    /**
     * What to export and where.
     *
     * @param tenant    whose events
     * @param from      inclusive start
     * @param to        exclusive end
     * @param format    Parquet or CSV
     * @param outputDir the folder exports are allowed in
     * @param file      the file's path relative to {@code outputDir}; its extension must match
     * @param overwrite whether an existing file may be replaced
     */
    public record Request(String tenant, Instant from, Instant to, Format format, Path outputDir, String file,
            boolean overwrite) {
        public Request {
            if (tenant == null || !EventRules.isTenant(tenant)) {
                throw new IllegalArgumentException("tenant = " + (tenant == null ? "null" : "'" + tenant + "'")
                        + ": required; letters, digits, '.', '_' and '-', starting with a letter or digit");
            }
            Objects.requireNonNull(from, "from");
            Objects.requireNonNull(to, "to");
            if (!from.isBefore(to)) {
                throw new IllegalArgumentException("to = " + to + " must be after from = " + from);
            }
            Objects.requireNonNull(format, "format");
            Objects.requireNonNull(outputDir, "outputDir");
            if (file == null || !file.toLowerCase(Locale.ROOT).endsWith(format.extension())) {
                throw new IllegalArgumentException("file = " + (file == null ? "null" : "'" + file + "'")
                        + ": must end with " + format.extension() + " for a " + format + " export");
            }
        }
    }

    /** The written file. */
    public record Result(Path file, long rows, long bytes) {
    }

    /** Writes the export; see the class comment for the guarantees. */
    public static Result export(UsageStore store, Request req) {
        StoreReader ts = StoreReader.of(store);
        Path root = req.outputDir().toAbsolutePath().normalize();
        if (!Files.isDirectory(root)) {
            throw new IllegalArgumentException("outputDir = " + root + ": not an existing folder");
        }
        Path target = FileSync.resolveInside(root, req.file());
        Path tmp = null;
        ReadView view = ts.acquireView();
        try {
            Path parent = target.getParent();
            Files.createDirectories(parent);
            if (!parent.toRealPath().startsWith(root.toRealPath())) {
                throw new IllegalArgumentException("file = '" + req.file() + "': its folder leads out of " + root
                        + " through a symbolic link");
            }
            if (Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
                if (!req.overwrite()) {
                    throw new IllegalArgumentException("file = '" + req.file() + "': already exists in " + root
                            + "; choose another name or allow overwrite");
                }
                if (Files.isSymbolicLink(target) || !Files.isRegularFile(target)) {
                    throw new IllegalArgumentException("file = '" + req.file() + "': exists and is not a regular file");
                }
            }
            List<String> lost = view.lostDetailDays(req.from(), req.to());
            if (!lost.isEmpty()) {
                throw new StoreException("cannot export tenant '" + req.tenant() + "' " + req.from() + ".." + req.to()
                        + ": the event detail of " + lost + " is gone (deleted by retention, or quarantined as damaged; only hourly rollups remain); "
                        + "start at " + view.detailCompleteFrom(req.from(), req.to()) + " or later");
            }
            tmp = parent.resolve("." + target.getFileName() + "." + UUID.randomUUID() + ".tmp");
            long rows = write(ts, view, req, tmp);
            FileSync.fsyncFile(tmp);
            long bytes = Files.size(tmp);
            FileSync.moveAtomically(tmp, target);
            tmp = null;
            return new Result(target, rows, bytes);
        } catch (IOException | SQLException e) {
            throw new StoreException("export of tenant '" + req.tenant() + "' to " + target + " failed; nothing was "
                    + "written there: " + e.getMessage(), e);
        } finally {
            view.close();
            if (tmp != null) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException ignored) {
                    // the export already failed; a stray temp file is named as such
                }
            }
        }
    }

    private static long write(StoreReader store, ReadView view, Request req, Path tmp) throws SQLException {
        // Corrected: voided events left out, amended ones with their new values.
        CorrectedView fix = CorrectedView.of(CorrectedStore.of(store), view, req.tenant(), true);
        String events = TierSql.events(view, TierSql.EVENT_COLUMNS, req.tenant(), req.from(), req.to(), fix::source,
                fix.amended());
        String time = req.format() == Format.CSV ? "strftime(time, '%Y-%m-%dT%H:%M:%S.%fZ') AS time"
                : "time::TIMESTAMPTZ AS time";
        String select = "SELECT tenant, id, type, subject, source, " + time + ", data FROM ("
                + events + ") ORDER BY time, id";
        String options = req.format() == Format.CSV ? "(FORMAT csv, HEADER true)"
                : "(FORMAT parquet, COMPRESSION zstd)";
        DuckDBConnection c = store.engine().borrow();
        try (Statement s = c.createStatement()) {
            boolean hasRows = s.execute("COPY (" + select + ") TO " + Engine.literal(tmp) + " " + options);
            if (hasRows) {
                try (ResultSet rs = s.getResultSet()) {
                    if (rs.next()) {
                        return rs.getLong(1);
                    }
                }
            }
            return Math.max(0, s.getUpdateCount());
        } finally {
            store.engine().giveBack(c);
        }
    }
}
