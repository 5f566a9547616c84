package dev.tally.store.sql;

import dev.tally.store.EventRules;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tally.store.StoreException;
import dev.tally.store.UsageStore;
import dev.tally.store.internal.Engine;
import dev.tally.store.internal.PartHandle;
import dev.tally.store.internal.PartKind;
import dev.tally.store.internal.SegmentHandle;
import dev.tally.store.internal.SegmentSchema;
import dev.tally.store.internal.TierView;
import dev.tally.store.internal.TieredStore;
import dev.tally.store.internal.TimeUtil;
import java.io.IOException;
import java.math.BigDecimal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Properties;
import java.util.stream.Stream;
import org.duckdb.DuckDBConnection;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Read-only SQL for one tenant over its archived usage, on a DuckDB instance of its own (never the
 * store's engine). Two tables hold only that tenant's rows:
 * <ul>
 *   <li>{@code usage_events(tenant, id, type, subject, source, time TIMESTAMP (UTC), data VARCHAR
 *       (JSON object))}: every event in the sealed detail parts and, since the sandbox is built in
 *       the store's process, in the active and pending segments;</li>
 *   <li>{@code usage_rollups_hourly(tenant, type, subject, hour TIMESTAMP (UTC), property,
 *       value_count, value_sum, value_min, value_max)}: one row per tenant, type, subject, hour and
 *       property (NULL = the event count) over every sealed rollup part plus rollups of the
 *       active and pending segments.</li>
 * </ul>
 *
 * <p>How it is kept apart: {@link #open} copies the tenant's rows into a DuckDB file in a private
 * folder (mode 700), closes it, and reopens it <b>read-only</b>; then it sets the memory limit,
 * threads, spill folder and statement time limit, turns off {@code enable_external_access} (no
 * file, no ATTACH, no COPY, no INSTALL/LOAD) and sets {@code lock_configuration} (no SET/RESET).
 * The store's files are never reachable from it: other tenants' rows are not in its database, and
 * no file function works. Every statement is checked with {@code json_serialize_sql} before it is
 * prepared (DuckDB can run DDL while preparing): only one single SELECT passes.
 *
 * <p>The tables are a snapshot taken by {@link #open}. Thread-safe: statements run one at a time.
 */
public final class SqlSandbox implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(SqlSandbox.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Longest statement accepted, in characters. */
    public static final int MAX_SQL_CHARS = 100_000;

    private static final String EVENT_COLUMNS = "tenant, id, type, subject, source, time, data";

    private final String tenant;
    private final SandboxOptions options;
    private final Path folder;
    private final DuckDBConnection conn;
    private final long events;
    private boolean closed;

    private SqlSandbox(String tenant, SandboxOptions options, Path folder, DuckDBConnection conn, long events) {
        this.tenant = tenant;
        this.options = options;
        this.folder = folder;
        this.conn = conn;
        this.events = events;
    }

    /** Builds the sandbox of {@code tenant} with default limits. */
    public static SqlSandbox open(UsageStore store, String tenant) {
        return open(store, tenant, SandboxOptions.defaults());
    }

    /** Builds the sandbox of {@code tenant}: copies its rows, then locks the instance down. */
    public static SqlSandbox open(UsageStore store, String tenant, SandboxOptions options) {
        Objects.requireNonNull(store, "store");
        Objects.requireNonNull(options, "options");
        if (!(store instanceof TieredStore ts)) {
            throw new IllegalArgumentException("store must be a store built by UsageStore.builder(), got "
                    + store.getClass().getName());
        }
        if (tenant == null || !EventRules.isTenant(tenant)) {
            throw new IllegalArgumentException("tenant = " + (tenant == null ? "null" : "'" + tenant + "'")
                    + ": required; letters, digits, '.', '_' and '-', starting with a letter or digit");
        }
        Path folder = null;
        try {
            Path base = options.workDir() != null ? options.workDir() : Path.of(System.getProperty("java.io.tmpdir"));
            Files.createDirectories(base);
            folder = Files.createTempDirectory(base, "tally-sql-",
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
            Path db = folder.resolve("sandbox.duckdb");
            long events = build(ts, tenant, options, folder, db);
            DuckDBConnection conn = lockedDown(db, folder, options);
            log.info("sql sandbox for tenant {} ready: {} events", tenant, events);
            return new SqlSandbox(tenant, options, folder, conn, events);
        } catch (IOException | SQLException e) {
            deleteFolder(folder);
            throw new StoreException("cannot build the SQL sandbox for tenant '" + tenant + "': " + e.getMessage(), e);
        } catch (RuntimeException e) {
            deleteFolder(folder);
            throw e;
        }
    }

    /** Copies the tenant's rows into {@code db}; returns how many events. */
    private static long build(TieredStore store, String tenant, SandboxOptions o, Path folder, Path db)
            throws SQLException, IOException {
        String t = Engine.literal(tenant);
        String eventRange = (o.from() == null ? "" : " AND time >= " + TimeUtil.sqlTimestamp(o.from()))
                + (o.to() == null ? "" : " AND time < " + TimeUtil.sqlTimestamp(o.to()));
        String hourRange = (o.from() == null ? ""
                : " AND hour >= " + TimeUtil.sqlTimestamp(o.from().truncatedTo(java.time.temporal.ChronoUnit.HOURS)))
                + (o.to() == null ? "" : " AND hour < " + TimeUtil.sqlTimestamp(o.to()));
        TierView view = store.acquireView();
        List<Path> segmentExports = new ArrayList<>();
        try {
            // 1. Active and pending segments live in the store's engine: export the tenant's rows.
            DuckDBConnection sc = store.engine().borrow();
            try (Statement s = sc.createStatement()) {
                for (SegmentHandle h : view.segments()) {
                    if (h.rows() == 0) {
                        continue;
                    }
                    Path out = folder.resolve("segment-" + h.seq() + ".parquet");
                    s.execute("COPY (SELECT " + EVENT_COLUMNS + " FROM " + h.eventsTable() + " WHERE tenant = " + t
                            + eventRange + ") TO " + Engine.literal(out) + " (FORMAT parquet)");
                    segmentExports.add(out);
                }
            } finally {
                store.engine().giveBack(sc);
            }
            java.time.Instant lo = o.from() == null ? java.time.Instant.EPOCH : o.from();
            java.time.Instant hi = o.to() == null ? java.time.Instant.parse("9999-01-01T00:00:00Z") : o.to();
            List<PartHandle> detail = view.parts(PartKind.DETAIL, lo, hi);
            List<PartHandle> rollups = view.parts(PartKind.ROLLUP, lo.minusSeconds(3600), hi);
            // 2. A fresh instance of our own writes the sandbox file.
            try (Connection b = DriverManager.getConnection("jdbc:duckdb:" + db, new Properties());
                    Statement s = b.createStatement()) {
                s.execute("SET TimeZone = 'UTC'");
                s.execute("SET autoinstall_known_extensions = false");
                s.execute("SET autoload_known_extensions = false");
                s.execute("CREATE TABLE usage_events (tenant VARCHAR NOT NULL, id VARCHAR NOT NULL, "
                        + "type VARCHAR NOT NULL, subject VARCHAR NOT NULL, source VARCHAR, time TIMESTAMP NOT NULL, "
                        + "data VARCHAR NOT NULL)");
                StringBuilder union = new StringBuilder();
                if (!detail.isEmpty()) {
                    union.append("SELECT ").append(EVENT_COLUMNS).append(" FROM ").append(files(detail))
                            .append(" WHERE tenant = ").append(t).append(eventRange);
                }
                if (!segmentExports.isEmpty()) {
                    union.append(union.isEmpty() ? "" : " UNION ALL ").append("SELECT ").append(EVENT_COLUMNS)
                            .append(" FROM ").append(pathList(segmentExports));
                }
                if (!union.isEmpty()) {
                    s.execute("INSERT INTO usage_events SELECT * FROM (" + union + ") ORDER BY time, id");
                }
                s.execute("CREATE TABLE usage_rollups_hourly (tenant VARCHAR NOT NULL, type VARCHAR NOT NULL, "
                        + "subject VARCHAR NOT NULL, hour TIMESTAMP NOT NULL, property VARCHAR, "
                        + "value_count BIGINT NOT NULL, value_sum DECIMAL(38,9), value_min DECIMAL(38,9), "
                        + "value_max DECIMAL(38,9))");
                StringBuilder ru = new StringBuilder();
                String rollupCols = "tenant, type, subject, hour, property, value_count, value_sum, value_min, value_max";
                if (!rollups.isEmpty()) {
                    ru.append("SELECT ").append(rollupCols).append(" FROM ").append(files(rollups))
                            .append(" WHERE tenant = ").append(t).append(hourRange);
                }
                if (!segmentExports.isEmpty()) {
                    ru.append(ru.isEmpty() ? "" : " UNION ALL ").append("SELECT ").append(rollupCols).append(" FROM (")
                            .append(SegmentSchema.rollupQuery(pathList(segmentExports), "TIMESTAMP '0001-01-01'",
                                    "TIMESTAMP '9999-01-01'"))
                            .append(")");
                }
                if (!ru.isEmpty()) {
                    // An hour split across segments has a row per segment: merge them.
                    s.execute("INSERT INTO usage_rollups_hourly SELECT tenant, type, subject, hour, property, "
                            + "CAST(sum(value_count) AS BIGINT), sum(value_sum), min(value_min), max(value_max) FROM ("
                            + ru + ") GROUP BY tenant, type, subject, hour, property "
                            + "ORDER BY tenant, type, subject, hour, property NULLS FIRST");
                }
                s.execute("CHECKPOINT");
                try (ResultSet rs = s.executeQuery("SELECT count(*) FROM usage_events")) {
                    rs.next();
                    return rs.getLong(1);
                }
            }
        } finally {
            view.close();
            for (Path p : segmentExports) {
                Files.deleteIfExists(p);
            }
        }
    }

    private static String files(List<PartHandle> parts) {
        return pathList(parts.stream().map(PartHandle::file).toList());
    }

    private static String pathList(List<Path> paths) {
        StringBuilder sb = new StringBuilder("read_parquet([");
        for (int i = 0; i < paths.size(); i++) {
            sb.append(i == 0 ? "" : ", ").append(Engine.literal(paths.get(i)));
        }
        return sb.append("])").toString();
    }

    /** Reopens the sandbox file read-only and applies the limits, then forbids files and settings. */
    private static DuckDBConnection lockedDown(Path db, Path folder, SandboxOptions o) throws SQLException, IOException {
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
            s.execute("SET max_execution_time = " + Math.max(1, o.timeout().toMillis()));
            s.execute("SET enable_external_access = false");
            s.execute("SET lock_configuration = true");
        } catch (SQLException e) {
            c.close();
            throw e;
        }
        return c;
    }

    public String tenant() {
        return tenant;
    }

    /** Events copied into {@code usage_events}. */
    public long events() {
        return events;
    }

    public SandboxOptions options() {
        return options;
    }

    /**
     * Runs one SELECT and returns at most {@code maxRows} rows.
     *
     * @throws SqlSandboxException with {@link SqlSandboxException.Kind#REJECTED} when the text is not
     *         one single SELECT (nothing ran), {@code DENIED} when it reached for a file, setting or
     *         write, {@code TIMEOUT}, {@code INVALID} for wrong SQL, {@code FAILED} otherwise
     */
    public synchronized SqlResult query(String sql) {
        if (closed) {
            throw new IllegalStateException("the SQL sandbox of tenant '" + tenant + "' is closed");
        }
        if (sql == null || sql.isBlank()) {
            throw new SqlSandboxException(SqlSandboxException.Kind.REJECTED, "the statement is empty");
        }
        if (sql.length() > MAX_SQL_CHARS) {
            throw new SqlSandboxException(SqlSandboxException.Kind.REJECTED, "the statement is " + sql.length()
                    + " characters long; the limit is " + MAX_SQL_CHARS);
        }
        checkSingleSelect(sql);
        try (Statement s = conn.createStatement()) {
            boolean hasRows = s.execute(sql);
            if (!hasRows) {
                throw new SqlSandboxException(SqlSandboxException.Kind.REJECTED, "the statement returned no rows; "
                        + "only SELECT is allowed");
            }
            try (ResultSet rs = s.getResultSet()) {
                return read(rs, options.maxRows());
            }
        } catch (SQLException e) {
            throw translate(sql, e);
        }
    }

    /** Refuses anything but exactly one SELECT, by DuckDB's own parser, before anything is prepared. */
    private void checkSingleSelect(String sql) {
        String serialized;
        try (PreparedStatement ps = conn.prepareStatement("SELECT json_serialize_sql(?)")) {
            ps.setString(1, sql);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                serialized = rs.getString(1);
            }
        } catch (SQLException e) {
            throw new SqlSandboxException(SqlSandboxException.Kind.REJECTED, "the statement could not be parsed: "
                    + firstLine(e.getMessage()), e);
        }
        JsonNode parsed;
        try {
            parsed = JSON.readTree(serialized);
        } catch (IOException e) {
            throw new SqlSandboxException(SqlSandboxException.Kind.REJECTED, "the statement could not be checked", e);
        }
        if (parsed.path("error").asBoolean(false)) {
            String type = parsed.path("error_type").asText("");
            String msg = parsed.path("error_message").asText("");
            if (type.equals("not implemented") || msg.contains("Only SELECT")) {
                throw new SqlSandboxException(SqlSandboxException.Kind.REJECTED, "only a single SELECT statement is "
                        + "allowed (no DDL, DML, SET/RESET, PRAGMA, ATTACH, COPY, INSTALL/LOAD, EXPLAIN or CALL): "
                        + abbreviate(sql));
            }
            throw new SqlSandboxException(SqlSandboxException.Kind.INVALID, "the statement does not parse: " + msg);
        }
        int n = parsed.path("statements").size();
        if (n != 1) {
            throw new SqlSandboxException(SqlSandboxException.Kind.REJECTED, "exactly one statement is allowed, got "
                    + n + ": " + abbreviate(sql));
        }
    }

    private static SqlResult read(ResultSet rs, int maxRows) throws SQLException {
        ResultSetMetaData md = rs.getMetaData();
        int n = md.getColumnCount();
        List<String> columns = new ArrayList<>(n);
        List<String> types = new ArrayList<>(n);
        for (int i = 1; i <= n; i++) {
            columns.add(md.getColumnLabel(i));
            types.add(md.getColumnTypeName(i));
        }
        List<List<Object>> rows = new ArrayList<>();
        boolean truncated = false;
        while (rs.next()) {
            if (rows.size() == maxRows) {
                truncated = true;
                break;
            }
            List<Object> row = new ArrayList<>(n);
            for (int i = 1; i <= n; i++) {
                row.add(value(rs, i, types.get(i - 1)));
            }
            rows.add(row);
        }
        return new SqlResult(columns, types, rows, truncated);
    }

    private static Object value(ResultSet rs, int i, String type) throws SQLException {
        String t = type.toUpperCase(Locale.ROOT);
        Object v;
        if (t.startsWith("DECIMAL")) {
            v = rs.getBigDecimal(i);
        } else if (t.equals("TIMESTAMP") || t.startsWith("TIMESTAMP_") && !t.contains("TZ")) {
            LocalDateTime ldt = rs.getObject(i, LocalDateTime.class);
            v = ldt == null ? null : ldt.toInstant(ZoneOffset.UTC);
        } else if (t.equals("TIMESTAMP WITH TIME ZONE") || t.equals("TIMESTAMPTZ")) {
            v = rs.getObject(i, OffsetDateTime.class);
        } else if (t.equals("DATE")) {
            v = rs.getObject(i, LocalDate.class);
        } else if (t.equals("BIGINT") || t.equals("INTEGER") || t.equals("SMALLINT") || t.equals("TINYINT")
                || t.equals("UINTEGER") || t.equals("USMALLINT") || t.equals("UTINYINT")) {
            long l = rs.getLong(i);
            v = rs.wasNull() ? null : l;
        } else if (t.equals("HUGEINT") || t.equals("UBIGINT") || t.equals("UHUGEINT")) {
            String s = rs.getString(i);
            v = s == null ? null : new BigDecimal(s).toBigIntegerExact();
        } else if (t.equals("DOUBLE") || t.equals("FLOAT")) {
            double d = rs.getDouble(i);
            v = rs.wasNull() ? null : d;
        } else if (t.equals("BOOLEAN")) {
            boolean b = rs.getBoolean(i);
            v = rs.wasNull() ? null : b;
        } else {
            v = rs.getString(i);
        }
        return v;
    }

    private SqlSandboxException translate(String sql, SQLException e) {
        String msg = String.valueOf(e.getMessage());
        String first = firstLine(msg);
        if (msg.contains("Permission Error") || msg.contains("disabled by configuration")
                || msg.contains("configuration has been locked") || msg.contains("read-only mode")
                || msg.contains("enable_external_access")) {
            return new SqlSandboxException(SqlSandboxException.Kind.DENIED, "the sandbox forbids this (no files, "
                    + "settings or writes; only the tables usage_events and usage_rollups_hourly of tenant '" + tenant
                    + "'): " + first, e);
        }
        if (msg.contains("INTERRUPT") || msg.contains("maximum execution time")) {
            return new SqlSandboxException(SqlSandboxException.Kind.TIMEOUT, "the statement ran longer than "
                    + options.timeout() + " and was stopped: " + abbreviate(sql), e);
        }
        if (msg.contains("Parser Error") || msg.contains("Binder Error") || msg.contains("Catalog Error")
                || msg.contains("Conversion Error") || msg.contains("Syntax Error")) {
            return new SqlSandboxException(SqlSandboxException.Kind.INVALID, first, e);
        }
        return new SqlSandboxException(SqlSandboxException.Kind.FAILED, first, e);
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }

    private static String abbreviate(String sql) {
        String one = sql.strip().replaceAll("\\s+", " ");
        return one.length() <= 120 ? one : one.substring(0, 120) + "…";
    }

    /** Closes the instance and deletes its private folder. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            conn.close();
        } catch (SQLException e) {
            log.warn("closing the SQL sandbox of tenant {} failed: {}", tenant, e.getMessage());
        }
        deleteFolder(folder);
    }

    private static void deleteFolder(Path folder) {
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
