package dev.tally.store.sql;

import dev.tally.store.correct.CorrectedStore;
import com.fasterxml.jackson.databind.JsonNode;
import dev.tally.store.EngineErrors;
import dev.tally.store.EventRules;
import dev.tally.store.StoreException;
import dev.tally.store.UsageStore;
import dev.tally.store.read.StoreReader;
import java.io.IOException;
import java.math.BigDecimal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
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
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
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
 *   <li>{@code usage_corrections}: the tenant's corrected events (see {@code docs/corrections.md});
 *       the two tables above are corrected unless the sandbox was opened uncorrected (the audit
 *       view).</li>
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
 * <p><b>Limits that hold for any statement.</b> A statement whose constant arguments ask a
 * value-building function ({@code repeat}, {@code lpad}, {@code range}, …) for more than the result
 * byte limit is refused before it runs (one such call cannot be interrupted once started). Every
 * statement then runs wrapped: its first {@code maxRows + 1} rows are materialized inside DuckDB,
 * under {@code memory_limit} (DuckDB refuses with an out-of-memory error rather than the JVM), and
 * their size as text is checked against {@code maxResultBytes} <em>before</em> a single value
 * reaches Java. Wall time is enforced twice: DuckDB's {@code max_execution_time} and a watchdog that
 * cancels the statement at the limit. Engine failures reach the caller as a class and an incident
 * id only (see {@link EngineErrors}).
 *
 * <p>The tables are a snapshot taken by {@link #open}. Thread-safe: statements run one at a time
 * (the instance's monitor guards the connection).
 */
public final class SqlSandbox implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(SqlSandbox.class);
    /** Longest statement accepted, in characters. */
    public static final int MAX_SQL_CHARS = 100_000;

    /** The text our result-size guard raises; a statement quoting it only refuses itself. */
    private static final String TOO_LARGE_MARK = "tally_sandbox_result_too_large";
    /** Cancels statements that outlive their time limit; one daemon thread for every sandbox. */
    private static final ScheduledExecutorService WATCHDOG = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "tally-sql-watchdog");
        t.setDaemon(true);
        return t;
    });

    private final String tenant;
    private final SandboxOptions options;
    private final Path folder;
    private final DuckDBConnection conn;
    private final long events;
    private final List<String> warnings;
    private boolean closed; // guarded by this

    private SqlSandbox(String tenant, SandboxOptions options, Path folder, DuckDBConnection conn, long events,
            List<String> warnings) {
        this.tenant = tenant;
        this.options = options;
        this.folder = folder;
        this.conn = conn;
        this.events = events;
        this.warnings = List.copyOf(warnings);
    }

    /** Builds the sandbox of {@code tenant} with default limits. */
    public static SqlSandbox open(UsageStore store, String tenant) {
        return open(store, tenant, SandboxOptions.defaults());
    }

    /** Builds the sandbox of {@code tenant}: copies its rows, then locks the instance down. */
    public static SqlSandbox open(UsageStore store, String tenant, SandboxOptions options) {
        return open(store, tenant, options, false);
    }

    /**
     * Like {@link #open(UsageStore, String, SandboxOptions)}; with {@code uncorrected} the tables
     * hold the events as stored, ignoring corrections (the audit view). Either way the table
     * {@code usage_corrections} lists the tenant's corrected events (see {@code docs/corrections.md}).
     */
    public static SqlSandbox open(UsageStore store, String tenant, SandboxOptions options, boolean uncorrected) {
        Objects.requireNonNull(store, "store");
        Objects.requireNonNull(options, "options");
        StoreReader reader = StoreReader.of(store);
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
            List<String> warnings = new ArrayList<>();
            long events = SandboxLoader.build(reader, CorrectedStore.of(store), tenant, options, folder, db, warnings,
                    uncorrected);
            DuckDBConnection conn = SandboxLoader.lockedDown(db, folder, options);
            log.info("sql sandbox for tenant {} ready: {} events", tenant, events);
            return new SqlSandbox(tenant, options, folder, conn, events, warnings);
        } catch (IOException | SQLException e) {
            SandboxLoader.deleteFolder(folder);
            // The engine's text may quote another tenant's value from a shared, damaged part.
            EngineErrors.Redacted r = EngineErrors.redact("building the SQL sandbox for tenant '" + tenant + "'", e);
            throw new StoreException(r.message(), e);
        } catch (RuntimeException e) {
            SandboxLoader.deleteFolder(folder);
            throw e;
        }
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

    /** Why answers of this sandbox may be incomplete (quarantined parts in its range); empty when whole. */
    public List<String> warnings() {
        return warnings;
    }

    /**
     * Runs one SELECT and returns at most {@code maxRows} rows.
     *
     * @throws SqlSandboxException with {@link SqlSandboxException.Kind#REJECTED} when the text is not
     *         one single SELECT (nothing ran), {@code DENIED} when it reached for a file, setting or
     *         write, {@code TIMEOUT}, {@code RESULT_TOO_LARGE}, {@code MEMORY_LIMIT}, {@code INVALID}
     *         for wrong SQL, {@code FAILED} otherwise (a class and an incident id, no engine text)
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
        JsonNode parsed = StatementGuard.checkSingleSelect(conn, sql);
        StatementGuard.checkValueBuilders(parsed, options.maxResultBytes());
        AtomicBoolean timedOut = new AtomicBoolean();
        try {
            // The user's statement, cut to maxRows + 1 rows; the newline ends a trailing line comment.
            String inner = "SELECT * FROM (\n" + withoutTrailingSemicolon(sql) + "\n) LIMIT " + (options.maxRows() + 1L);
            List<String> columns = new ArrayList<>();
            List<String> types = new ArrayList<>();
            StringBuilder select = new StringBuilder();
            try (PreparedStatement ps = conn.prepareStatement(inner)) {
                ResultSetMetaData md = ps.getMetaData();
                for (int i = 1; i <= md.getColumnCount(); i++) {
                    String type = md.getColumnTypeName(i);
                    columns.add(md.getColumnLabel(i));
                    types.add(type);
                    // The driver cannot read every TIME value (24:00:00): DuckDB prints it instead.
                    select.append(i == 1 ? "" : ", ").append(textOnly(type) ? "CAST(#" + i + " AS VARCHAR)" : "#" + i);
                }
            }
            String guarded = "WITH __tally_result AS MATERIALIZED (" + inner + ") SELECT " + select
                    + " FROM __tally_result WHERE (SELECT coalesce(sum(strlen(CAST(r AS VARCHAR))), 0) "
                    + "FROM __tally_result r) <= " + options.maxResultBytes() + " OR error('" + TOO_LARGE_MARK + "')";
            try (Statement s = conn.createStatement()) {
                ScheduledFuture<?> watchdog = WATCHDOG.schedule(() -> {
                    timedOut.set(true);
                    try {
                        s.cancel();
                    } catch (SQLException | RuntimeException e) {
                        log.debug("cancelling a sandbox statement of tenant {} failed: {}", tenant, e.toString());
                    }
                }, options.timeout().toMillis(), TimeUnit.MILLISECONDS);
                try (ResultSet rs = s.executeQuery(guarded)) {
                    return read(rs, columns, types, options.maxRows(), options.maxResultBytes());
                } finally {
                    watchdog.cancel(false);
                }
            }
        } catch (SQLException e) {
            throw translate(sql, e, timedOut.get());
        } catch (java.time.DateTimeException | ArithmeticException | NumberFormatException e) {
            throw failed("reading a value of the result", e);
        }
    }

    private static boolean textOnly(String type) {
        String t = type.toUpperCase(Locale.ROOT);
        return t.startsWith("TIME") && !t.startsWith("TIMESTAMP");
    }

    private static String withoutTrailingSemicolon(String sql) {
        String s = sql.strip();
        while (s.endsWith(";")) {
            s = s.substring(0, s.length() - 1).stripTrailing();
        }
        return s;
    }

    private SqlResult read(ResultSet rs, List<String> columns, List<String> types, int maxRows, long maxBytes)
            throws SQLException {
        int n = columns.size();
        List<List<Object>> rows = new ArrayList<>();
        boolean truncated = false;
        long bytes = 0;
        while (rs.next()) {
            if (rows.size() == maxRows) {
                truncated = true;
                break;
            }
            List<Object> row = new ArrayList<>(n);
            for (int i = 1; i <= n; i++) {
                Object v = value(rs, i, textOnly(types.get(i - 1)) ? "VARCHAR" : types.get(i - 1));
                bytes += v == null ? 4 : SqlResult.text(v).length();
                row.add(v);
            }
            // A second guard, on Java's side: the engine's estimate and ours differ a little.
            if (bytes > maxBytes) {
                throw tooLarge();
            }
            rows.add(row);
        }
        return new SqlResult(columns, types, rows, truncated, warnings);
    }

    private SqlSandboxException tooLarge() {
        return new SqlSandboxException(SqlSandboxException.Kind.RESULT_TOO_LARGE, "the result is larger than the "
                + "result byte limit of " + options.maxResultBytes() + " bytes (maxResultBytes, sql.max-result-bytes); "
                + "select fewer or shorter columns, or aggregate; nothing was returned");
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

    private SqlSandboxException translate(String sql, SQLException e, boolean timedOut) {
        String msg = String.valueOf(e.getMessage());
        String first = EngineErrors.scrubPaths(StatementGuard.firstLine(msg));
        if (msg.contains(TOO_LARGE_MARK)) {
            return tooLarge();
        }
        if (timedOut || msg.contains("INTERRUPT") || msg.contains("maximum execution time")) {
            return new SqlSandboxException(SqlSandboxException.Kind.TIMEOUT, "the statement ran longer than the time "
                    + "limit of " + options.timeout().toMillis() + " ms (timeout, sql.timeout) and was cancelled: "
                    + StatementGuard.abbreviate(sql), e);
        }
        if (msg.contains("Out of Memory") || msg.contains("failed to allocate") || msg.contains("could not allocate")) {
            return new SqlSandboxException(SqlSandboxException.Kind.MEMORY_LIMIT, "the statement needed more than the "
                    + "memory limit of " + options.memoryLimit() + " bytes (memoryLimit, sql.memory-limit) and DuckDB "
                    + "refused it; aggregate, filter or select fewer columns", e);
        }
        if (msg.contains("Out of Range Error")) {
            // The operands in DuckDB's text are values of this tenant's sandbox only; still, the
            // class and the types are enough to act on.
            return new SqlSandboxException(SqlSandboxException.Kind.OVERFLOW, "a number in the statement does not "
                    + "fit its type (BIGINT, HUGEINT or DECIMAL(38,9): at most 29 integer digits); cast to DOUBLE "
                    + "for an approximate sum, or sum smaller groups: " + StatementGuard.abbreviate(sql), e);
        }
        if (msg.contains("Permission Error") || msg.contains("disabled by configuration")
                || msg.contains("configuration has been locked") || msg.contains("read-only mode")
                || msg.contains("enable_external_access")) {
            return new SqlSandboxException(SqlSandboxException.Kind.DENIED, "the sandbox forbids this (no files, "
                    + "settings or writes; only the tables usage_events and usage_rollups_hourly of tenant '" + tenant
                    + "'): " + first, e);
        }
        if (msg.contains("Parser Error") || msg.contains("Binder Error") || msg.contains("Catalog Error")
                || msg.contains("Conversion Error") || msg.contains("Syntax Error")) {
            // The sandbox holds only this tenant's rows, so a value quoted here is the tenant's own.
            return new SqlSandboxException(SqlSandboxException.Kind.INVALID, first, e);
        }
        return failed("the statement", e);
    }

    private SqlSandboxException failed(String what, Exception e) {
        EngineErrors.Redacted r = EngineErrors.redact(what + " in the SQL sandbox of tenant '" + tenant + "'", e);
        return new SqlSandboxException(SqlSandboxException.Kind.FAILED, r.message(), e);
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
        SandboxLoader.deleteFolder(folder);
    }
}
