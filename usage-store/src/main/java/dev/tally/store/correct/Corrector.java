package dev.tally.store.correct;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tally.store.EventCodec;
import dev.tally.store.EventRejectedException;
import dev.tally.store.EventRules;
import dev.tally.store.ReadOnlyStoreException;
import dev.tally.store.StoreException;
import dev.tally.store.UsageEvent;
import dev.tally.store.engine.Engine;
import dev.tally.store.engine.TimeUtil;
import dev.tally.store.read.ReadView;
import dev.tally.store.read.StoreReader;
import dev.tally.store.read.TierSql;
import java.math.BigDecimal;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Instant;
import java.time.YearMonth;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import org.duckdb.DuckDBConnection;

/**
 * Applies {@link Correction corrections} to a store: checks them, finds the events they touch
 * (across every tier, as they read now), refuses closed periods unless forced, and appends the
 * correction with its per-event effects to the {@link CorrectionLog} in one transaction.
 *
 * <p>Thread-safe: one correction at a time, under {@link CorrectionLog#lock()}. Lookups read a
 * pinned view of the store and never take the write gate, so appends go on meanwhile; an event
 * appended after the view was pinned is simply not touched (an id not yet stored is unknown).
 */
public final class Corrector {
    /** After the correction and its effects are committed, before the store's in-memory state knows. */
    public static final String CRASH_APPENDED = "correction.appended";
    /** Before the correction's transaction commits. */
    public static final String CRASH_BEFORE_COMMIT = "correction.before-commit";

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int MAX_CORRECTION_ID = 256;
    private static final int MAX_IDS = 10_000;

    private final StoreReader store;
    private final CorrectionLog log;
    private final Clock clock;
    /** Test seam: told each named step ({@link #CRASH_BEFORE_COMMIT}, {@link #CRASH_APPENDED}). */
    private final java.util.function.Consumer<String> crash;

    public Corrector(StoreReader store, CorrectionLog log, Clock clock, java.util.function.Consumer<String> crash) {
        this.store = Objects.requireNonNull(store, "store");
        this.log = Objects.requireNonNull(log, "log");
        this.clock = Objects.requireNonNull(clock, "clock");
        this.crash = Objects.requireNonNull(crash, "crash");
    }

    /**
     * Applies {@code c}. Ids that cannot be corrected are reported one by one in the result; a
     * correction touching a closed period is refused whole with {@link ClosedPeriodException}
     * unless forced. Resending a stored correction id returns the stored result, marked duplicate.
     */
    public CorrectionResult apply(Correction c) {
        return apply(c, false);
    }

    /**
     * Like {@link #apply(Correction)}; with {@code recordEmpty}, a correction that corrects
     * nothing is stored too (with no effects), so applying it again is a no-op by its id. The
     * journal importer applies corrections this way: importing a journal again (after a crash, or
     * from the start) must not void events that were appended after the correction.
     */
    public CorrectionResult apply(Correction c, boolean recordEmpty) {
        Objects.requireNonNull(c, "correction");
        if (log.readOnly()) {
            throw new ReadOnlyStoreException("correct");
        }
        check(c);
        log.lock().lock();
        ReadView view = null;
        DuckDBConnection conn = null;
        try {
            conn = store.engine().borrow();
            CorrectionRecord stored = log.find(conn, c.tenant(), c.correctionId());
            if (stored != null) {
                CorrectionResult dup = new CorrectionResult(stored.correctionId(), true, stored.events(),
                        log.rejections(conn, c.tenant(), c.correctionId()), stored.forcedPeriods());
                log.metrics().record(c.kind(), CorrectionMetrics.Outcome.DUPLICATE, dup);
                return dup;
            }
            view = store.acquireView();
            String raw = rawEvents(view, c.tenant());
            String eff = CorrectionLog.effective(c.tenant());
            String joined = " FROM " + raw + " r LEFT JOIN " + eff + " x ON r.tenant = x.tenant AND r.id = x.id";
            List<CorrectionRejection> rejected = new ArrayList<>();
            List<String> targets = new ArrayList<>();
            Instant newTime = null;
            UsageEvent replacement = null;
            if (c.kind() == Correction.Kind.VOID_RANGE) {
                Correction.Range g = c.range();
                StringBuilder where = new StringBuilder(" WHERE x.voided IS NOT TRUE AND ")
                        .append(current("time")).append(" >= ").append(TimeUtil.sqlTimestamp(g.from()))
                        .append(" AND ").append(current("time")).append(" < ").append(TimeUtil.sqlTimestamp(g.to()));
                if (g.subject() != null) {
                    where.append(" AND ").append(current("subject")).append(" = ").append(Engine.literal(g.subject()));
                }
                if (g.type() != null) {
                    where.append(" AND ").append(current("type")).append(" = ").append(Engine.literal(g.type()));
                }
                try (Statement s = conn.createStatement();
                        ResultSet rs = s.executeQuery("SELECT r.id" + joined + where + " ORDER BY r.id")) {
                    while (rs.next()) {
                        targets.add(rs.getString(1));
                    }
                }
            } else {
                List<String> ids = c.kind() == Correction.Kind.AMEND ? List.of(c.replacement().id()) : c.ids();
                Map<String, Found> found = new LinkedHashMap<>();
                try (Statement s = conn.createStatement(); ResultSet rs = s.executeQuery("SELECT r.id, epoch_us(r.time), "
                        + "x.voided" + joined + " WHERE r.id IN " + inList(new LinkedHashSet<>(ids)))) {
                    while (rs.next()) {
                        found.put(rs.getString(1), new Found(TimeUtil.fromMicros(rs.getLong(2)), rs.getBoolean(3)));
                    }
                }
                LinkedHashSet<String> seen = new LinkedHashSet<>();
                for (int i = 0; i < ids.size(); i++) {
                    String id = ids.get(i);
                    Found f = found.get(id);
                    if (!seen.add(id)) {
                        continue;
                    }
                    if (f == null) {
                        rejected.add(new CorrectionRejection(i, id, CorrectionRejectReason.UNKNOWN_ID, "no event of "
                                + "tenant '" + c.tenant() + "' has id " + EventCodec.quote(id)));
                    } else if (f.voided()) {
                        rejected.add(new CorrectionRejection(i, id, CorrectionRejectReason.ALREADY_VOIDED, "event "
                                + EventCodec.quote(id) + " of tenant '" + c.tenant() + "' is voided already"));
                    } else if (c.kind() == Correction.Kind.AMEND) {
                        try {
                            replacement = EventRules.canonical(c.replacement()).event();
                        } catch (EventRejectedException e) {
                            rejected.add(new CorrectionRejection(i, id, CorrectionRejectReason.INVALID_REPLACEMENT,
                                    "replacement of " + EventCodec.quote(id) + ": " + e.getMessage()));
                            continue;
                        }
                        if (!replacement.time().atOffset(ZoneOffset.UTC).toLocalDate()
                                .equals(f.origTime().atOffset(ZoneOffset.UTC).toLocalDate())) {
                            rejected.add(new CorrectionRejection(i, id, CorrectionRejectReason.INVALID_REPLACEMENT,
                                    "replacement of " + EventCodec.quote(id) + ": field 'time' = "
                                            + EventCodec.formatTime(replacement.time()) + " leaves the event's UTC day "
                                            + f.origTime().atOffset(ZoneOffset.UTC).toLocalDate()
                                            + "; an amended event keeps its UTC day (void it and send a new event)"));
                            continue;
                        }
                        newTime = replacement.time();
                        targets.add(id);
                    } else {
                        targets.add(id);
                    }
                }
            }
            List<String> forcedPeriods = closedPeriodsTouched(conn, c, joined, targets, newTime);
            if (!forcedPeriods.isEmpty() && !c.force()) {
                log.metrics().record(c.kind(), CorrectionMetrics.Outcome.CLOSED_PERIOD, null);
                throw new ClosedPeriodException(c.correctionId(), forcedPeriods);
            }
            if (targets.isEmpty() && !recordEmpty) {
                // Nothing to record: a resend after the events arrive can still apply it.
                CorrectionResult none = new CorrectionResult(c.correctionId(), false, 0, rejected, List.of());
                log.metrics().record(c.kind(), CorrectionMetrics.Outcome.NOTHING_TO_CORRECT, none);
                return none;
            }
            long seq = log.nextSeq();
            Instant now = clock.instant();
            conn.setAutoCommit(false);
            try (Statement s = conn.createStatement()) {
                if (!targets.isEmpty()) {
                    String newValues = replacement == null ? "true, NULL, NULL, NULL, NULL, NULL"
                            : "false, " + Engine.literal(replacement.type()) + ", " + Engine.literal(replacement.subject())
                                    + ", " + (replacement.source() == null ? "NULL" : Engine.literal(replacement.source()))
                                    + ", " + TimeUtil.sqlTimestamp(replacement.time()) + ", "
                                    + Engine.literal(replacement.data());
                    s.execute("INSERT INTO " + CorrectionLog.EFFECTS + " SELECT " + seq + ", r.tenant, r.id, " + newValues
                            + ", r.type, r.subject, r.source, r.time, r.data FROM " + raw + " r WHERE r.id IN "
                            + inList(targets));
                }
                s.execute("INSERT INTO " + CorrectionLog.CORRECTIONS + " VALUES (" + seq + ", " + Engine.literal(c.tenant())
                        + ", " + Engine.literal(c.correctionId()) + ", " + Engine.literal(c.kind().name()) + ", "
                        + TimeUtil.sqlTimestamp(now) + ", " + Engine.literal(c.actor()) + ", " + Engine.literal(c.reason())
                        + ", " + !forcedPeriods.isEmpty() + ", " + Engine.literal(CorrectionLog.jsonArray(forcedPeriods))
                        + ", " + targets.size() + ", " + Engine.literal(requestJson(c)) + ")");
                String rejections = CorrectionLog.insertRejections(c.tenant(), c.correctionId(), rejected);
                if (rejections != null) {
                    s.execute(rejections);
                }
                crash.accept(CRASH_BEFORE_COMMIT);
                conn.commit();
            } catch (SQLException | RuntimeException e) {
                conn.rollback();
                throw e;
            } finally {
                conn.setAutoCommit(true);
            }
            crash.accept(CRASH_APPENDED);
            log.committed(seq, c.tenant(), targets.size());
            CorrectionResult done = new CorrectionResult(c.correctionId(), false, targets.size(), rejected, forcedPeriods);
            log.metrics().record(c.kind(), targets.isEmpty() ? CorrectionMetrics.Outcome.NOTHING_TO_CORRECT
                    : CorrectionMetrics.Outcome.APPLIED, done);
            if (!forcedPeriods.isEmpty()) {
                org.slf4j.LoggerFactory.getLogger(Corrector.class).warn("correction '{}' of tenant '{}' by '{}' changed "
                        + "the closed period(s) {} by force: {}", c.correctionId(), c.tenant(), c.actor(), forcedPeriods,
                        c.reason());
            }
            return done;
        } catch (SQLException e) {
            throw new StoreException("correction '" + c.correctionId() + "' of tenant '" + c.tenant()
                    + "' failed; nothing was corrected: " + e.getMessage(), e);
        } finally {
            if (conn != null) {
                store.engine().giveBack(conn);
            }
            if (view != null) {
                view.close();
            }
            log.lock().unlock();
        }
    }

    private record Found(Instant origTime, boolean voided) {
    }

    private static void check(Correction c) {
        if (!EventRules.isTenant(c.tenant())) {
            throw new IllegalArgumentException("tenant = " + (c.tenant() == null ? "null" : EventCodec.quote(c.tenant()))
                    + ": required; letters, digits, '.', '_' and '-', starting with a letter or digit");
        }
        String id = c.correctionId();
        if (id == null || id.isEmpty() || id.length() > MAX_CORRECTION_ID || id.indexOf('\0') >= 0) {
            throw new IllegalArgumentException("correctionId = " + (id == null ? "null" : EventCodec.quote(id))
                    + ": required, 1 to " + MAX_CORRECTION_ID + " characters, no NUL");
        }
        if (c.actor().indexOf('\0') >= 0 || c.reason().indexOf('\0') >= 0) {
            throw new IllegalArgumentException("actor and reason must not contain NUL");
        }
        switch (c.kind()) {
            case VOID -> {
                if (c.ids().isEmpty() || c.ids().size() > MAX_IDS) {
                    throw new IllegalArgumentException("ids: " + c.ids().size() + " given; a void names 1 to " + MAX_IDS
                            + " event ids (use a range void for more)");
                }
                for (String i : c.ids()) {
                    if (i == null || i.isEmpty() || i.indexOf('\0') >= 0) {
                        throw new IllegalArgumentException("ids: an id is null, empty or contains NUL");
                    }
                }
            }
            case AMEND -> {
                UsageEvent r = c.replacement();
                if (r == null || r.id() == null || r.id().isEmpty() || r.id().indexOf('\0') >= 0) {
                    throw new IllegalArgumentException("replacement: required, with the id of the event it amends");
                }
                if (!c.tenant().equals(r.tenant())) {
                    throw new IllegalArgumentException("replacement tenant = " + EventCodec.quote(String.valueOf(r.tenant()))
                            + " differs from the correction's tenant '" + c.tenant() + "'; an amend keeps the tenant");
                }
            }
            case VOID_RANGE -> {
                if (c.range() == null) {
                    throw new IllegalArgumentException("range: required for a range void");
                }
                for (String s : new String[] {c.range().subject(), c.range().type()}) {
                    if (s != null && s.indexOf('\0') >= 0) {
                        throw new IllegalArgumentException("range subject and type must not contain NUL");
                    }
                }
            }
        }
    }

    /** A column of the event as it reads now: the amended value where there is one. */
    private static String current(String col) {
        return "(CASE WHEN x.id IS NULL THEN r." + col + " ELSE x." + col + " END)";
    }

    /** Labels of the tenant's closed periods that an original or current time of a target (or the new time) falls in. */
    private List<String> closedPeriodsTouched(DuckDBConnection conn, Correction c, String joined, List<String> targets,
            Instant newTime) throws SQLException {
        List<ClosedPeriod> closed = log.closedPeriods(c.tenant());
        if (closed.isEmpty() || targets.isEmpty()) {
            return List.of();
        }
        StringBuilder sql = new StringBuilder("SELECT ");
        for (int i = 0; i < closed.size(); i++) {
            ClosedPeriod p = closed.get(i);
            String s = TimeUtil.sqlTimestamp(p.start());
            String e = TimeUtil.sqlTimestamp(p.end());
            sql.append(i == 0 ? "" : ", ").append("count(*) FILTER (WHERE (r.time >= ").append(s).append(" AND r.time < ")
                    .append(e).append(") OR (x.time >= ").append(s).append(" AND x.time < ").append(e).append("))");
        }
        sql.append(joined).append(" WHERE r.id IN ").append(inList(targets));
        List<String> out = new ArrayList<>();
        try (Statement s = conn.createStatement(); ResultSet rs = s.executeQuery(sql.toString())) {
            rs.next();
            for (int i = 0; i < closed.size(); i++) {
                if (rs.getLong(i + 1) > 0 || newTime != null && closed.get(i).contains(newTime)) {
                    out.add(closed.get(i).label());
                }
            }
        }
        return out;
    }

    /** Every stored event of {@code tenant} across every tier of {@code view}, as stored (uncorrected). */
    static String rawEvents(ReadView view, String tenant) {
        return "(" + TierSql.events(view, TierSql.EVENT_COLUMNS, tenant, null, null) + ")";
    }

    private static String inList(java.util.Collection<String> values) {
        StringBuilder sb = new StringBuilder("(");
        for (String v : values) {
            sb.append(sb.length() == 1 ? "" : ", ").append(Engine.literal(v));
        }
        return sb.append(')').toString();
    }

    private static String requestJson(Correction c) {
        ObjectNode n = JSON.createObjectNode();
        n.put("kind", c.kind().code());
        switch (c.kind()) {
            case VOID -> c.ids().forEach(n.putArray("ids")::add);
            case AMEND -> n.put("replacement", EventCodec.toJson(c.replacement()));
            case VOID_RANGE -> {
                n.put("from", c.range().from().toString());
                n.put("to", c.range().to().toString());
                if (c.range().subject() != null) {
                    n.put("subject", c.range().subject());
                }
                if (c.range().type() != null) {
                    n.put("type", c.range().type());
                }
            }
        }
        return n.toString();
    }

    // ---------------------------------------------------------------- closed periods and report

    /** Closes {@code month} of {@code tenant} in {@code zone}; see {@link ClosedPeriod}. */
    public ClosedPeriod closePeriod(String tenant, YearMonth month, ZoneId zone, String actor) {
        if (log.readOnly()) {
            throw new ReadOnlyStoreException("close-period");
        }
        if (!EventRules.isTenant(tenant)) {
            throw new IllegalArgumentException("tenant = " + EventCodec.quote(String.valueOf(tenant)) + " is not a tenant");
        }
        Objects.requireNonNull(month, "month");
        Objects.requireNonNull(zone, "zone");
        return log.close(tenant, month, zone, clock.instant(), actor == null ? "" : actor);
    }

    /**
     * Every forced correction of {@code tenant} with what it changed: the event count and the
     * sum of each top-level numeric {@code data} property (new values minus original values).
     */
    public List<ForcedCorrection> forcedReport(String tenant) {
        List<ForcedCorrection> out = new ArrayList<>();
        for (CorrectionRecord rec : log.list(tenant, true)) {
            long eventsDelta = 0;
            Map<String, BigDecimal> deltas = new TreeMap<>();
            String rows = "SELECT orig_data AS d, -1 AS sign FROM " + CorrectionLog.EFFECTS + " WHERE seq = " + rec.seq()
                    + " UNION ALL SELECT data, 1 FROM " + CorrectionLog.EFFECTS + " WHERE seq = " + rec.seq()
                    + " AND NOT voided";
            String sql = "SELECT e.key, sum(sign * CAST(e.value AS DECIMAL(38,9))) FROM (SELECT sign, "
                    + "unnest(map_entries(json_transform(d, '\"MAP(VARCHAR, JSON)\"'))) AS e FROM (" + rows + ")) "
                    + "WHERE json_type(e.value) IN ('BIGINT', 'UBIGINT', 'DOUBLE', 'HUGEINT') GROUP BY e.key";
            try {
                DuckDBConnection c = store.engine().borrow();
                try (Statement s = c.createStatement()) {
                    try (ResultSet rs = s.executeQuery(sql)) {
                        while (rs.next()) {
                            deltas.put(rs.getString(1), rs.getBigDecimal(2));
                        }
                    }
                    try (ResultSet rs = s.executeQuery("SELECT -count(*) FILTER (WHERE voided) FROM "
                            + CorrectionLog.EFFECTS + " WHERE seq = " + rec.seq())) {
                        rs.next();
                        eventsDelta = rs.getLong(1);
                    }
                } finally {
                    store.engine().giveBack(c);
                }
            } catch (SQLException e) {
                throw new StoreException("cannot report forced correction '" + rec.correctionId() + "': "
                        + e.getMessage(), e);
            }
            out.add(new ForcedCorrection(rec, eventsDelta, deltas));
        }
        return out;
    }
}
