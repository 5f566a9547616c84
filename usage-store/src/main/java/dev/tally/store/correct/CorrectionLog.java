package dev.tally.store.correct;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tally.store.StoreException;
import dev.tally.store.engine.Engine;
import dev.tally.store.engine.TimeUtil;
import dev.tally.store.read.PartFile;
import dev.tally.store.read.ReadView;
import dev.tally.store.read.SegmentSource;
import dev.tally.store.io.FileSync;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.time.YearMonth;
import java.time.ZoneId;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;
import org.duckdb.DuckDBConnection;

/**
 * The corrections of a store: an append-only record in its own DuckDB file
 * ({@code corrections.db} in the data directory), attached to the store's engine as
 * {@value #ALIAS}. Sealed Parquet parts never change; readers apply corrections on the fly
 * through the SQL this class builds around "the events of this view":
 * <ul>
 *   <li>{@link #excluding}: a source without the events any correction touched (anti-join on
 *       tenant and id), and</li>
 *   <li>{@link #replacements}: the amended events' current values, a source of their own.</li>
 * </ul>
 * A correction and its per-event effects are written in one DuckDB transaction, so a crash
 * leaves all of it or none of it; its effect on every reader (rollups included) is computed
 * from that record at read time, so there is no second step a crash could lose.
 *
 * <p>Tables: {@code corrections} (one row per correction, unique by tenant and correction id),
 * {@code effects} (one row per corrected event: the original values and, for an amend, the new
 * ones; the row with the highest {@code seq} per tenant and id is in force) and
 * {@code closed_periods}.
 *
 * <p>Thread-safe. {@link #lock()} serializes corrections (their id check, lookups and append);
 * it is taken by nothing else and never while holding a store lock. Reads take no lock: the
 * per-tenant versions are a concurrent map bumped after each commit.
 */
public final class CorrectionLog {
    /** The engine alias of the corrections database. */
    public static final String ALIAS = "tally_corrections";
    /** The file name in the data directory (a DuckDB database; not {@code .duckdb}, which names segments). */
    public static final String FILE = "corrections.db";

    static final String CORRECTIONS = ALIAS + ".main.corrections";
    static final String EFFECTS = ALIAS + ".main.effects";
    static final String PERIODS = ALIAS + ".main.closed_periods";
    /**
     * The ids a stored correction did not correct, so a resend answers them again (a journal
     * importer that crashed after the correction committed dead-letters them on its retry).
     * A table of its own, created if missing, so files written before it open unchanged.
     */
    static final String REJECTIONS = ALIAS + ".main.rejections";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Engine engine;
    private final Path file;
    private final boolean readOnly;
    private final ReentrantLock lock = new ReentrantLock();
    /** Corrected events per tenant: 0 (absent) means readers need not apply anything. */
    private final Map<String, Long> versions = new ConcurrentHashMap<>();
    private final CorrectionMetrics metrics = new CorrectionMetrics();
    // Guarded by lock.
    private long lastSeq;

    public CorrectionLog(Engine engine, Path dataDir, boolean readOnly) {
        this.engine = engine;
        this.file = dataDir.resolve(FILE);
        this.readOnly = readOnly;
    }

    /**
     * Attaches the corrections database, creating it durably (temp name, checkpoint, fsync,
     * rename, fsync the directory) when it does not exist; a report-only store without one reads
     * an empty in-memory record.
     */
    public void open() throws SQLException, IOException {
        if (!Files.exists(file)) {
            if (readOnly) {
                engine.execute("ATTACH ':memory:' AS " + ALIAS);
                engine.execute(schema());
                return;
            }
            Path tmp = file.resolveSibling(FILE + FileSync.TMP_SUFFIX);
            Files.deleteIfExists(tmp);
            Files.deleteIfExists(tmp.resolveSibling(tmp.getFileName() + ".wal"));
            engine.execute("ATTACH " + Engine.literal(tmp) + " AS " + ALIAS + "_new");
            try {
                engine.execute(schema().replace(ALIAS + ".main.", ALIAS + "_new.main."));
                engine.execute("CHECKPOINT " + ALIAS + "_new");
            } finally {
                engine.execute("DETACH " + ALIAS + "_new");
            }
            FileSync.fsyncFile(tmp);
            FileSync.moveAtomically(tmp, file);
        }
        engine.execute("ATTACH " + Engine.literal(file) + " AS " + ALIAS + (readOnly ? " (READ_ONLY)" : ""));
        if (!readOnly) {
            engine.execute(schema()); // adds tables newer than the file; existing ones are kept as they are
        }
        DuckDBConnection c = engine.borrow();
        try (Statement s = c.createStatement()) {
            try (ResultSet rs = s.executeQuery("SELECT tenant, count(*) FROM " + EFFECTS + " GROUP BY tenant")) {
                while (rs.next()) {
                    versions.put(rs.getString(1), rs.getLong(2));
                }
            }
            try (ResultSet rs = s.executeQuery("SELECT coalesce(max(seq), 0) FROM " + CORRECTIONS)) {
                rs.next();
                lastSeq = rs.getLong(1);
            }
        } finally {
            engine.giveBack(c);
        }
    }

    private static String schema() {
        return "CREATE TABLE IF NOT EXISTS " + CORRECTIONS + " (seq BIGINT PRIMARY KEY, tenant VARCHAR NOT NULL, "
                + "correction_id VARCHAR NOT NULL, kind VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL, actor VARCHAR NOT NULL, "
                + "reason VARCHAR NOT NULL, forced BOOLEAN NOT NULL, forced_periods VARCHAR NOT NULL, "
                + "events BIGINT NOT NULL, request VARCHAR NOT NULL, UNIQUE (tenant, correction_id)); "
                + "CREATE TABLE IF NOT EXISTS " + EFFECTS + " (seq BIGINT NOT NULL, tenant VARCHAR NOT NULL, "
                + "id VARCHAR NOT NULL, voided BOOLEAN NOT NULL, type VARCHAR, subject VARCHAR, source VARCHAR, "
                + "time TIMESTAMP, data VARCHAR, orig_type VARCHAR NOT NULL, orig_subject VARCHAR NOT NULL, "
                + "orig_source VARCHAR, orig_time TIMESTAMP NOT NULL, orig_data VARCHAR NOT NULL); "
                + "CREATE TABLE IF NOT EXISTS " + PERIODS + " (tenant VARCHAR NOT NULL, month VARCHAR NOT NULL, "
                + "zone VARCHAR NOT NULL, closed_at TIMESTAMP NOT NULL, actor VARCHAR NOT NULL, "
                + "PRIMARY KEY (tenant, month)); "
                + "CREATE TABLE IF NOT EXISTS " + REJECTIONS + " (tenant VARCHAR NOT NULL, correction_id VARCHAR NOT NULL, "
                + "rejected VARCHAR NOT NULL)";
    }

    /** Serializes corrections; see the class comment. */
    ReentrantLock lock() {
        return lock;
    }

    /** Next correction sequence; caller holds {@link #lock()}. */
    long nextSeq() {
        return lastSeq + 1;
    }

    /** After a commit; caller holds {@link #lock()}. */
    void committed(long seq, String tenant, long events) {
        lastSeq = seq;
        if (events > 0) {
            versions.merge(tenant, events, Long::sum);
        }
    }

    /** Counters since the store opened. */
    public CorrectionMetrics metrics() {
        return metrics;
    }

    public boolean readOnly() {
        return readOnly;
    }

    // ---------------------------------------------------------------- read side

    /**
     * A number that changes whenever a correction of {@code tenant} is stored: part of every
     * cache key of a corrected result, so a cached per-part answer is never served after a
     * correction. 0 means the tenant has none.
     */
    public long version(String tenant) {
        if (tenant == null) {
            return versions.values().stream().mapToLong(Long::longValue).sum();
        }
        return versions.getOrDefault(tenant, 0L);
    }

    /** True when {@code tenant} (every tenant when null) has corrected events. */
    public boolean any(String tenant) {
        return version(tenant) > 0;
    }

    /** The effect in force per corrected event of {@code tenant} (every tenant when null). */
    static String effective(String tenant) {
        return "(SELECT * FROM " + EFFECTS + (tenant == null ? "" : " WHERE tenant = " + Engine.literal(tenant))
                + " QUALIFY row_number() OVER (PARTITION BY tenant, id ORDER BY seq DESC) = 1)";
    }

    /**
     * {@code source} (a table, a table function or a parenthesized SELECT with columns tenant
     * and id) without the events a correction of {@code tenant} (of any tenant when null)
     * voided or amended; every column of {@code source} is kept. The source itself when there is
     * nothing to take out, so a store without corrections reads exactly as before.
     */
    public String excluding(String tenant, String source) {
        if (!any(tenant)) {
            return source;
        }
        return "(SELECT src_.* FROM " + source + " AS src_ ANTI JOIN (SELECT DISTINCT tenant, id FROM " + EFFECTS
                + (tenant == null ? "" : " WHERE tenant = " + Engine.literal(tenant))
                + ") fx_ ON src_.tenant = fx_.tenant AND src_.id = fx_.id)";
    }

    /**
     * The amended events of {@code tenant} (every tenant when null) with their new values, as a
     * source with columns tenant, id, type, subject, source, time, data; only those whose original
     * is still held by {@code view} (retention has not deleted its detail). Null when there are
     * none, so callers can skip the source.
     */
    public String replacements(String tenant, ReadView view) {
        if (!any(tenant)) {
            return null;
        }
        return "(SELECT tenant, id, type, subject, source, time, data FROM " + effective(tenant)
                + " WHERE NOT voided AND orig_time >= " + TimeUtil.sqlTimestamp(heldFrom(view, false)) + ")";
    }

    /**
     * The original values of the events of {@code tenant} a correction voided or amended whose
     * original is in the sealed tier of {@code view} (in no segment, and not older than its
     * oldest rollup): what to subtract from hourly rollups. Columns tenant, id, type, subject,
     * source, time, data. Null when there are none.
     */
    public String sealedOriginals(String tenant, ReadView view) {
        if (!any(tenant)) {
            return null;
        }
        StringBuilder sb = new StringBuilder("(SELECT tenant, id, orig_type AS type, orig_subject AS subject, "
                + "orig_source AS source, orig_time AS time, orig_data AS data FROM " + effective(tenant) + " fx_"
                + " WHERE orig_time >= " + TimeUtil.sqlTimestamp(heldFrom(view, true)));
        for (SegmentSource h : view.segments()) {
            sb.append(" AND NOT EXISTS (SELECT 1 FROM ").append(h.eventsTable())
                    .append(" s_ WHERE s_.tenant = fx_.tenant AND s_.id = fx_.id)");
        }
        return sb.append(')').toString();
    }

    /** Oldest event time {@code view} still holds in its rollup or detail parts (or in a segment, for detail). */
    static Instant heldFrom(ReadView view, boolean rollup) {
        Instant min = TimeUtil.MAX;
        for (PartFile p : rollup ? view.rollupParts(TimeUtil.MIN, TimeUtil.MAX)
                : view.detailParts(TimeUtil.MIN, TimeUtil.MAX)) {
            if (p.part().minTime() != null && p.part().minTime().isBefore(min)) {
                min = p.part().minTime();
            }
        }
        if (!rollup) {
            for (SegmentSource h : view.segments()) {
                if (h.minTime() != null && h.minTime().isBefore(min)) {
                    min = h.minTime();
                }
            }
        }
        return min;
    }

    // ---------------------------------------------------------------- listing

    /** Every correction of {@code tenant}, oldest first; {@code forcedOnly} keeps the forced ones. */
    public List<CorrectionRecord> list(String tenant, boolean forcedOnly) {
        String sql = "SELECT seq, correction_id, tenant, kind, epoch_us(applied_at), actor, reason, forced, forced_periods, "
                + "events, request FROM " + CORRECTIONS + " WHERE tenant = " + Engine.literal(tenant)
                + (forcedOnly ? " AND forced" : "") + " ORDER BY seq";
        List<CorrectionRecord> out = new ArrayList<>();
        try {
            DuckDBConnection c = engine.borrow();
            try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
                while (rs.next()) {
                    out.add(record(rs));
                }
            } finally {
                engine.giveBack(c);
            }
        } catch (SQLException e) {
            throw new StoreException("cannot list the corrections of tenant '" + tenant + "': " + e.getMessage(), e);
        }
        return out;
    }

    /** The SQL that stores the rejected ids of a correction (run in its transaction), or null when there are none. */
    static String insertRejections(String tenant, String correctionId, List<CorrectionRejection> rejected) {
        if (rejected.isEmpty()) {
            return null;
        }
        com.fasterxml.jackson.databind.node.ArrayNode a = JSON.createArrayNode();
        for (CorrectionRejection r : rejected) {
            a.addObject().put("index", r.index()).put("id", r.id()).put("reason", r.reason().name())
                    .put("message", r.message());
        }
        return "INSERT INTO " + REJECTIONS + " VALUES (" + Engine.literal(tenant) + ", " + Engine.literal(correctionId)
                + ", " + Engine.literal(a.toString()) + ")";
    }

    /** The ids the stored correction {@code correctionId} did not correct; empty when it has none (or predates the table). */
    List<CorrectionRejection> rejections(DuckDBConnection c, String tenant, String correctionId) throws SQLException {
        List<CorrectionRejection> out = new ArrayList<>();
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT rejected FROM " + REJECTIONS
                + " WHERE tenant = " + Engine.literal(tenant) + " AND correction_id = " + Engine.literal(correctionId))) {
            if (rs.next()) {
                for (com.fasterxml.jackson.databind.JsonNode n : JSON.readTree(rs.getString(1))) {
                    out.add(new CorrectionRejection(n.get("index").asInt(), n.get("id").asText(),
                            CorrectionRejectReason.valueOf(n.get("reason").asText()), n.get("message").asText()));
                }
            }
        } catch (IOException e) {
            throw new SQLException("the rejections of correction " + correctionId + " are not JSON", e);
        }
        return out;
    }

    /** The stored correction {@code correctionId} of {@code tenant}, or null. */
    CorrectionRecord find(DuckDBConnection c, String tenant, String correctionId) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT seq, correction_id, tenant, "
                + "kind, epoch_us(applied_at), actor, reason, forced, forced_periods, events, request FROM " + CORRECTIONS
                + " WHERE tenant = " + Engine.literal(tenant) + " AND correction_id = " + Engine.literal(correctionId))) {
            return rs.next() ? record(rs) : null;
        }
    }

    private static CorrectionRecord record(ResultSet rs) throws SQLException {
        List<String> periods;
        try {
            periods = List.of(JSON.readValue(rs.getString(9), String[].class));
        } catch (IOException e) {
            throw new SQLException("forced_periods of correction " + rs.getString(2) + " is not a JSON array", e);
        }
        return new CorrectionRecord(rs.getLong(1), rs.getString(2), rs.getString(3),
                Correction.Kind.valueOf(rs.getString(4)), TimeUtil.fromMicros(rs.getLong(5)), rs.getString(6),
                rs.getString(7), rs.getBoolean(8), periods, rs.getLong(10), rs.getString(11));
    }

    static String jsonArray(List<String> values) {
        try {
            return JSON.writeValueAsString(values);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    // ---------------------------------------------------------------- closed periods

    /** The closed periods of {@code tenant}, oldest month first. */
    public List<ClosedPeriod> closedPeriods(String tenant) {
        List<ClosedPeriod> out = new ArrayList<>();
        try {
            DuckDBConnection c = engine.borrow();
            try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT month, zone, "
                    + "epoch_us(closed_at), actor FROM " + PERIODS + " WHERE tenant = " + Engine.literal(tenant)
                    + " ORDER BY month")) {
                while (rs.next()) {
                    out.add(ClosedPeriod.of(tenant, YearMonth.parse(rs.getString(1)), ZoneId.of(rs.getString(2)),
                            TimeUtil.fromMicros(rs.getLong(3)), rs.getString(4)));
                }
            } finally {
                engine.giveBack(c);
            }
        } catch (SQLException e) {
            throw new StoreException("cannot read the closed periods of tenant '" + tenant + "': " + e.getMessage(), e);
        }
        return out;
    }

    /** Closes {@code month} of {@code tenant} in {@code zone}; closing it again keeps the first close. */
    ClosedPeriod close(String tenant, YearMonth month, ZoneId zone, Instant now, String actor) {
        lock.lock();
        try {
            DuckDBConnection c = engine.borrow();
            try (Statement s = c.createStatement()) {
                s.execute("INSERT INTO " + PERIODS + " VALUES (" + Engine.literal(tenant) + ", "
                        + Engine.literal(month.toString()) + ", " + Engine.literal(zone.getId()) + ", "
                        + TimeUtil.sqlTimestamp(now) + ", " + Engine.literal(actor) + ") ON CONFLICT DO NOTHING");
            } finally {
                engine.giveBack(c);
            }
        } catch (SQLException e) {
            throw new StoreException("cannot close " + month + " of tenant '" + tenant + "': " + e.getMessage(), e);
        } finally {
            lock.unlock();
        }
        return closedPeriods(tenant).stream().filter(p -> p.month().equals(month)).findFirst().orElseThrow();
    }
}
