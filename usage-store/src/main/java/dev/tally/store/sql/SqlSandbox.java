package dev.tally.store.sql;

import dev.tally.store.EventRules;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tally.store.EngineErrors;
import dev.tally.store.StoreException;
import dev.tally.store.UsageStore;
import dev.tally.store.correct.CorrectedView;
import dev.tally.store.engine.Engine;
import dev.tally.store.internal.Manifest;
import dev.tally.store.internal.PartHandle;
import dev.tally.store.internal.PartKind;
import dev.tally.store.internal.SegmentHandle;
import dev.tally.store.internal.SegmentSchema;
import dev.tally.store.internal.TierView;
import dev.tally.store.internal.TieredStore;
import dev.tally.store.engine.TimeUtil;
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
import java.util.Map;
import java.util.Objects;
import java.util.Properties;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
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
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Longest statement accepted, in characters. */
    public static final int MAX_SQL_CHARS = 100_000;

    private static final String EVENT_COLUMNS = "tenant, id, type, subject, source, time, data";
    /** The text our result-size guard raises; a statement quoting it only refuses itself. */
    private static final String TOO_LARGE_MARK = "tally_sandbox_result_too_large";
    /** Functions whose one call builds a value as large as a numeric argument asks (bytes per unit). */
    private static final Map<String, Integer> VALUE_BUILDERS = Map.ofEntries(Map.entry("repeat", 1),
            Map.entry("lpad", 1), Map.entry("rpad", 1), Map.entry("range", 8), Map.entry("generate_series", 8),
            Map.entry("list_resize", 8), Map.entry("array_resize", 8), Map.entry("bitstring", 1),
            Map.entry("printf", 1), Map.entry("format", 1), Map.entry("repeat_row", 0));
    private static final Pattern FORMAT_WIDTH = Pattern.compile("%[-+ #0]*(\\d+)");
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
            List<String> warnings = new ArrayList<>();
            long events = build(ts, tenant, options, folder, db, warnings, uncorrected);
            DuckDBConnection conn = lockedDown(db, folder, options);
            log.info("sql sandbox for tenant {} ready: {} events", tenant, events);
            return new SqlSandbox(tenant, options, folder, conn, events, warnings);
        } catch (IOException | SQLException e) {
            deleteFolder(folder);
            // The engine's text may quote another tenant's value from a shared, damaged part.
            EngineErrors.Redacted r = EngineErrors.redact("building the SQL sandbox for tenant '" + tenant + "'", e);
            throw new StoreException(r.message(), e);
        } catch (RuntimeException e) {
            deleteFolder(folder);
            throw e;
        }
    }

    /** Copies the tenant's rows into {@code db}; returns how many events. */
    private static long build(TieredStore store, String tenant, SandboxOptions o, Path folder, Path db,
            List<String> warnings, boolean uncorrected) throws SQLException, IOException {
        String t = Engine.literal(tenant);
        String eventRange = (o.from() == null ? "" : " AND time >= " + TimeUtil.sqlTimestamp(o.from()))
                + (o.to() == null ? "" : " AND time < " + TimeUtil.sqlTimestamp(o.to()));
        String hourRange = (o.from() == null ? ""
                : " AND hour >= " + TimeUtil.sqlTimestamp(o.from().truncatedTo(java.time.temporal.ChronoUnit.HOURS)))
                + (o.to() == null ? "" : " AND hour < " + TimeUtil.sqlTimestamp(o.to()));
        TierView view = store.acquireView();
        List<Path> segmentExports = new ArrayList<>();
        SandboxCorrections corr = null;
        try {
            CorrectedView fix = CorrectedView.of(store.corrections(), view, tenant, !uncorrected);
            // 1. Active and pending segments live in the store's engine: export the tenant's rows.
            DuckDBConnection sc = store.engine().borrow();
            try (Statement s = sc.createStatement()) {
                for (SegmentHandle h : view.segments()) {
                    if (h.rows() == 0) {
                        continue;
                    }
                    Path out = folder.resolve("segment-" + h.seq() + ".parquet");
                    s.execute("COPY (SELECT " + EVENT_COLUMNS + " FROM " + fix.source(h.eventsTable()) + " WHERE tenant = " + t
                            + eventRange + ") TO " + Engine.literal(out) + " (FORMAT parquet)");
                    segmentExports.add(out);
                }
                corr = SandboxCorrections.export(s, store.corrections(), fix, tenant, folder);
            } finally {
                store.engine().giveBack(sc);
            }
            java.time.Instant lo = o.from() == null ? java.time.Instant.EPOCH : o.from();
            java.time.Instant hi = o.to() == null ? java.time.Instant.parse("9999-01-01T00:00:00Z") : o.to();
            List<PartHandle> detail = view.parts(PartKind.DETAIL, lo, hi);
            List<PartHandle> rollups = view.parts(PartKind.ROLLUP, lo.minusSeconds(3600), hi);
            warnings.addAll(quarantineWarnings(view, lo, hi));
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
                StringBuilder union = new StringBuilder();
                if (!detail.isEmpty()) {
                    union.append("SELECT ").append(EVENT_COLUMNS).append(" FROM ").append(corr.source(files(detail)))
                            .append(" WHERE tenant = ").append(t).append(eventRange);
                }
                if (corr.amended() != null) {
                    union.append(union.isEmpty() ? "" : " UNION ALL ").append("SELECT ").append(EVENT_COLUMNS)
                            .append(" FROM ").append(corr.amended()).append(" WHERE tenant = ").append(t).append(eventRange);
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
                    ru.append("SELECT ").append(rollupCols).append(", false AS corrected FROM ").append(files(rollups))
                            .append(" WHERE tenant = ").append(t).append(hourRange);
                }
                String deltas = corr.rollupDeltas(rollupCols, hourRange);
                if (deltas != null) {
                    ru.append(ru.isEmpty() ? "" : " UNION ALL ").append(deltas);
                }
                if (!segmentExports.isEmpty()) {
                    ru.append(ru.isEmpty() ? "" : " UNION ALL ").append("SELECT ").append(rollupCols)
                            .append(", false AS corrected FROM (")
                            .append(SegmentSchema.rollupQuery(pathList(segmentExports), "TIMESTAMP '0001-01-01'",
                                    "TIMESTAMP '9999-01-01'"))
                            .append(")");
                }
                if (!ru.isEmpty()) {
                    // An hour split across segments has a row per segment: merge them. An hour a correction
                    // changed keeps exact counts and sums, but its min and max are unknown (NULL): a
                    // voided value cannot be taken back out of a min.
                    s.execute("INSERT INTO usage_rollups_hourly SELECT tenant, type, subject, hour, property, "
                            + "CAST(sum(value_count) AS BIGINT), sum(value_sum), CASE WHEN bool_or(corrected) THEN NULL "
                            + "ELSE min(value_min) END, CASE WHEN bool_or(corrected) THEN NULL ELSE max(value_max) END "
                            + "FROM (" + ru + ") GROUP BY tenant, type, subject, hour, property "
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
                // A damaged part is quarantined here, so the next sandbox is built from the rest.
                List<PartHandle> read = new ArrayList<>(detail);
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

    /** One line per quarantined part overlapping {@code [lo, hi)}: the answer misses its rows. */
    private static List<String> quarantineWarnings(TierView view, java.time.Instant lo, java.time.Instant hi) {
        List<String> out = new ArrayList<>();
        for (Manifest.Quarantined q : view.manifest().quarantined()) {
            if (q.part().minTime() != null && q.part().maxTime() != null && q.part().minTime().isBefore(hi)
                    && !q.part().maxTime().isBefore(lo)) {
                out.add("partial: archive part " + q.part().path() + " (" + q.part().kind().name().toLowerCase(Locale.ROOT)
                        + ", events " + q.part().minTime() + ".." + q.part().maxTime() + ") is quarantined as damaged "
                        + "since " + q.at() + "; rows in it are missing from this answer");
            }
        }
        return out;
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
        JsonNode parsed = checkSingleSelect(sql);
        checkValueBuilders(parsed);
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

    /**
     * Refuses, before anything runs, a call of a value-building function whose constant size
     * argument alone asks for more than the result byte limit: DuckDB cannot interrupt one call,
     * and its string memory is not bounded by {@code memory_limit}.
     */
    private void checkValueBuilders(JsonNode node) {
        if (node == null) {
            return;
        }
        if (node.isObject() && "TABLE_FUNCTION".equals(node.path("type").asText())) {
            // range(n) in FROM yields rows in chunks, which the time limit stops: judge only its arguments.
            checkValueBuilders(node.path("function").path("arguments"));
            return;
        }
        if (node.isObject() && "FUNCTION".equals(node.path("class").asText())) {
            String name = node.path("function_name").asText("").toLowerCase(Locale.ROOT);
            Integer unit = VALUE_BUILDERS.get(name);
            if (unit != null) {
                BigDecimal asked = askedBytes(name, unit, node.path("arguments"));
                if (asked.compareTo(BigDecimal.valueOf(options.maxResultBytes())) > 0) {
                    throw new SqlSandboxException(SqlSandboxException.Kind.RESULT_TOO_LARGE, name + "(…) asks for "
                            + asked.toBigInteger() + " bytes, more than the result byte limit of "
                            + options.maxResultBytes() + " bytes (maxResultBytes, sql.max-result-bytes); nothing ran");
                }
            }
        }
        for (JsonNode child : node) {
            checkValueBuilders(child);
        }
    }

    private static BigDecimal askedBytes(String name, int unit, JsonNode arguments) {
        BigDecimal largest = BigDecimal.ZERO;
        BigDecimal text = BigDecimal.ONE;
        for (JsonNode a : arguments) {
            JsonNode e = a.has("expression") ? a.get("expression") : a;
            while ("CAST".equals(e.path("class").asText())) {
                e = e.path("child");
            }
            if (!"CONSTANT".equals(e.path("class").asText())) {
                continue;
            }
            String kind = e.path("literal").path("kind").asText("");
            String value = e.path("literal").path("text").asText("");
            if (kind.equals("STRING")) {
                text = text.max(BigDecimal.valueOf(value.length()));
                if (name.equals("printf") || name.equals("format")) {
                    Matcher m = FORMAT_WIDTH.matcher(value);
                    while (m.find()) {
                        largest = largest.max(new BigDecimal(m.group(1)));
                    }
                }
                continue;
            }
            try {
                largest = largest.max(new BigDecimal(value).abs());
            } catch (NumberFormatException ignored) {
                // not a number: nothing to judge statically
            }
        }
        if (unit == 0) {
            return BigDecimal.ZERO; // a table function: rows come in chunks the time limit can stop
        }
        return name.equals("repeat") ? largest.multiply(text) : largest.multiply(BigDecimal.valueOf(unit));
    }

    /** Refuses anything but exactly one SELECT, by DuckDB's own parser, before anything is prepared. */
    private JsonNode checkSingleSelect(String sql) {
        String serialized;
        try (PreparedStatement ps = conn.prepareStatement("SELECT json_serialize_sql(?)")) {
            ps.setString(1, sql);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                serialized = rs.getString(1);
            }
        } catch (SQLException e) {
            throw new SqlSandboxException(SqlSandboxException.Kind.REJECTED, "the statement could not be parsed: "
                    + EngineErrors.scrubPaths(firstLine(e.getMessage())), e);
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
            throw new SqlSandboxException(SqlSandboxException.Kind.INVALID, "the statement does not parse: "
                    + EngineErrors.scrubPaths(msg));
        }
        int n = parsed.path("statements").size();
        if (n != 1) {
            throw new SqlSandboxException(SqlSandboxException.Kind.REJECTED, "exactly one statement is allowed, got "
                    + n + ": " + abbreviate(sql));
        }
        return parsed;
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
        String first = EngineErrors.scrubPaths(firstLine(msg));
        if (msg.contains(TOO_LARGE_MARK)) {
            return tooLarge();
        }
        if (timedOut || msg.contains("INTERRUPT") || msg.contains("maximum execution time")) {
            return new SqlSandboxException(SqlSandboxException.Kind.TIMEOUT, "the statement ran longer than the time "
                    + "limit of " + options.timeout().toMillis() + " ms (timeout, sql.timeout) and was cancelled: "
                    + abbreviate(sql), e);
        }
        if (msg.contains("Out of Memory") || msg.contains("failed to allocate") || msg.contains("could not allocate")) {
            return new SqlSandboxException(SqlSandboxException.Kind.MEMORY_LIMIT, "the statement needed more than the "
                    + "memory limit of " + options.memoryLimit() + " bytes (memoryLimit, sql.memory-limit) and DuckDB "
                    + "refused it; aggregate, filter or select fewer columns", e);
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
