package dev.tally.store.verify;

import dev.tally.store.EventCodec;
import dev.tally.store.engine.TimeUtil;
import dev.tally.store.ingest.PositionCheck.Zone;
import dev.tally.store.read.QuarantinedPart;
import dev.tally.store.read.SnapshotInfo;
import dev.tally.store.read.ReadView;
import java.math.BigDecimal;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import org.duckdb.DuckDBConnection;

/**
 * Verify's classification: joins the source lines ({@link SourceReader#TABLE}) with every tier of
 * the snapshot in SQL, by tenant and id, decides each line's {@link VerifyClass} (the order is the
 * one {@link Verifier} documents, first match wins), lists findings up to the configured number
 * per class, totals per tenant and type with exact decimals, and builds the report.
 *
 * <p>Not thread-safe: confined to one run's thread. Holds no lock; reads only the snapshot.
 */
final class Classifier {
    private static final String SRC = SourceReader.TABLE;
    private static final String EXPIRED = "verify_expired";
    private static final int CONSUMED = Zone.CONSUMED.ordinal();
    private static final long HOUR_MICROS = 3_600_000_000L;

    /**
     * What classification depends on besides the run: the retentions decide {@code expired}.
     *
     * <p>Immutable and thread-safe.
     */
    record Settings(Clock clock, Duration detailRetention, Duration rollupRetention, int maxFindings) {
    }

    private final Settings settings;
    private final DuckDBConnection c;
    private final ReadView view;
    private final SnapshotInfo info;
    private final List<Source> sources;
    private final boolean complete;
    private final EnumMap<VerifyClass, Long> counts = new EnumMap<>(VerifyClass.class);
    private final EnumMap<VerifyClass, Integer> listed = new EnumMap<>(VerifyClass.class);
    private final List<EventFinding> findings = new ArrayList<>();
    private long omitted;
    private final TreeMap<String, Tally.Builder[]> totals = new TreeMap<>();

    private String storeSql;

    Classifier(Settings settings, DuckDBConnection c, ReadView view, SnapshotInfo info, List<Source> sources) {
        this.settings = settings;
        this.c = c;
        this.view = view;
        this.info = info;
        this.sources = sources;
        this.complete = info.complete();
    }

    /**
     * Classifies every line of {@link SourceReader#TABLE} and builds the report.
     *
     * @param storeSql  every stored event of the snapshot (tenant, id, type, subject, source, t, data)
     * @param rollupSql the snapshot's rollup counts (tenant, type, subject, hour_us, n)
     */
    VerifyReport classify(String storeSql, String rollupSql, Instant startedAt, long positionsWithoutFile,
            Verifier.Phases phases) throws SQLException {
        this.storeSql = storeSql;
        Clock clock = settings.clock();
        long cutoffMicros = TimeUtil.toMicros(clock.instant().minus(settings.detailRetention()));
        long rollupCutoffMicros = TimeUtil.toMicros(clock.instant().minus(settings.rollupRetention()));
        prepareExpired(cutoffMicros, rollupSql);
        phases.end("expiry check");
        String sql = "WITH st AS (" + storeSql + "), "
                + "s AS (SELECT *, row_number() OVER (PARTITION BY tenant, id ORDER BY ord) = 1 AS first_occ "
                + "FROM " + SRC + "), "
                + "j AS (SELECT s.*, st.id IS NOT NULL AS stored, st.type AS st_type, st.subject AS st_subject, "
                + "st.source AS st_source, st.t AS st_t, st.data AS st_data, "
                + "coalesce(st.type = s.type AND st.subject = s.subject AND st.source IS NOT DISTINCT FROM s.source "
                + "AND st.t = s.time_us AND st.data = s.data, false) AS same "
                + "FROM s LEFT JOIN st ON st.tenant = s.tenant AND st.id = s.id) "
                + "SELECT j.ord, j.file_idx, j.start_off, j.zone, j.damaged, j.dlq, j.tenant, j.id, j.type, "
                + "j.subject, j.source, j.time_us, j.data, j.note, j.first_occ, j.stored, j.same, "
                + "CASE WHEN j.same THEN NULL ELSE j.st_type END, CASE WHEN j.same THEN NULL ELSE j.st_subject END, "
                + "CASE WHEN j.same THEN NULL ELSE j.st_source END, CASE WHEN j.same THEN NULL ELSE j.st_t END, "
                + "CASE WHEN j.same THEN NULL ELSE j.st_data END, "
                + "e.source_n, e.rollup_n "
                + "FROM j LEFT JOIN " + EXPIRED + " e ON e.tenant = j.tenant AND e.type = j.type "
                + "AND e.subject = j.subject AND e.hour_us = (j.time_us // " + HOUR_MICROS + ") * " + HOUR_MICROS
                + " AND j.zone = " + CONSUMED + " AND NOT j.stored "
                + "ORDER BY j.ord";
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            phases.end("compare query");
            List<Row> group = new ArrayList<>(2);
            while (rs.next()) {
                Row r = Row.of(rs);
                if (!group.isEmpty() && group.get(0).ord != r.ord) {
                    decide(group, rollupCutoffMicros);
                    group.clear();
                }
                group.add(r);
            }
            if (!group.isEmpty()) {
                decide(group, rollupCutoffMicros);
            }
        }
        phases.end("classify and total");
        long storeOnly = storeOnly();
        phases.end("store-only totals");
        long duplicates = storeDuplicates();
        phases.end("duplicate keys");
        List<FileReport> files = new ArrayList<>();
        for (Source src : sources) {
            files.add(src.report());
        }
        List<TypeTotals> tt = new ArrayList<>();
        for (Map.Entry<String, Tally.Builder[]> e : totals.entrySet()) {
            String[] k = e.getKey().split("\u0000", 2);
            Tally.Builder[] b = e.getValue();
            tt.add(new TypeTotals(k[0], k[1], b[0].build(), b[1].build(), b[2].build()));
        }
        return new VerifyReport(startedAt, phases.total(), info, counts, files, tt, storeOnly, duplicates,
                positionsWithoutFile, findings, omitted);
    }

    /**
     * For lines that may be expired (consumed, not stored, not dead-lettered, older than the
     * detail cutoff), what the sources and the rollups count per tenant, type, subject and
     * hour.
     */
    private void prepareExpired(long cutoffMicros, String roll) throws SQLException {
        String sql = "CREATE TABLE " + EXPIRED + " AS WITH st AS (" + storeSql + "), "
                + "cand AS (SELECT s.tenant, s.type, s.subject, (s.time_us // " + HOUR_MICROS + ") * "
                + HOUR_MICROS + " AS hour_us, count(*) AS n FROM " + SRC + " s WHERE s.zone = " + CONSUMED
                + " AND NOT s.dlq AND NOT s.damaged AND s.time_us < " + cutoffMicros
                + " AND s.tenant IS NOT NULL AND s.id IS NOT NULL AND s.type IS NOT NULL AND s.subject IS NOT NULL "
                + "AND NOT EXISTS (SELECT 1 FROM st WHERE st.tenant = s.tenant AND st.id = s.id) GROUP BY ALL), "
                + "roll AS (" + roll + ") "
                + "SELECT c.tenant, c.type, c.subject, c.hour_us, c.n AS source_n, coalesce(r.n, 0) AS rollup_n "
                + "FROM cand c LEFT JOIN roll r ON r.tenant = c.tenant AND r.type = c.type "
                + "AND r.subject = c.subject AND r.hour_us = c.hour_us";
        try (Statement s = c.createStatement()) {
            try (ResultSet rs = s.executeQuery("SELECT count(*) FROM " + SRC + " WHERE zone = " + CONSUMED
                    + " AND time_us < " + cutoffMicros)) {
                rs.next();
                if (rs.getLong(1) == 0) {
                    s.execute("CREATE TABLE " + EXPIRED + " (tenant VARCHAR, type VARCHAR, subject VARCHAR, "
                            + "hour_us BIGINT, source_n BIGINT, rollup_n HUGEINT)");
                    return;
                }
            }
            s.execute(sql);
        }
    }

    /** Classifies one source line (several rows when its key is stored more than once). */
    private void decide(List<Row> rows, long rollupCutoffMicros) {
        Row r = rows.get(0);
        Source src = sources.get(r.fileIdx);
        VerifyClass verdict;
        String detail = "";
        List<EventFinding.FieldDifference> diffs = List.of();
        if (r.stored) {
            if (rows.size() > 1) {
                verdict = VerifyClass.CHANGED;
                detail = "stored " + rows.size() + " times; a tenant and id must be stored once";
            } else {
                diffs = differences(r);
                verdict = diffs.isEmpty() ? VerifyClass.UNCHANGED : VerifyClass.CHANGED;
                if (!diffs.isEmpty()) {
                    detail = "the stored event differs from the source in "
                            + String.join(", ", diffs.stream().map(EventFinding.FieldDifference::field).toList());
                }
            }
            if (verdict == VerifyClass.UNCHANGED && !r.firstOcc) {
                detail = "a repeat of an earlier line with the same tenant and id";
            } else if (verdict == VerifyClass.CHANGED && !r.firstOcc) {
                detail = "a repeat of an earlier line with the same tenant and id, with other values (the first "
                        + "one is stored): " + detail;
            }
        } else if (r.dlq) {
            verdict = VerifyClass.DEAD_LETTERED;
            detail = r.damaged ? "refused on import (" + r.note + ")" : "refused on import";
        } else if (r.zone == Zone.PENDING) {
            verdict = VerifyClass.PENDING;
            detail = "beyond the consumed boundary (byte " + src.boundary + "): not imported yet";
        } else if (r.zone == Zone.RACED) {
            verdict = VerifyClass.RACED;
            detail = "written after the snapshot (the file had " + src.stat0.size() + " bytes then)";
        } else if (r.zone == Zone.UNKNOWN) {
            verdict = VerifyClass.INCONCLUSIVE;
            detail = "not in the snapshot, and the consumed boundary is unknown";
        } else if (!complete) {
            verdict = VerifyClass.INCONCLUSIVE;
            detail = "consumed, not dead-lettered, and not in the snapshot, which is incomplete: "
                    + String.join("; ", info.problems());
        } else if (r.damaged) {
            verdict = VerifyClass.MISSING;
            detail = "consumed, but not an intact event now (" + r.note + ") and not in the dead-letter queue: "
                    + "damaged after import, or its dead letter was lost";
        } else if (r.sourceN != null) {
            long hour = Math.floorDiv(r.timeUs, HOUR_MICROS) * HOUR_MICROS;
            if (r.rollupN >= r.sourceN) {
                verdict = VerifyClass.EXPIRED;
                detail = "older than the detail retention; the rollups count " + r.rollupN + " events for its "
                        + "tenant, type, subject and hour";
            } else if (r.rollupN == 0 && hour < rollupCutoffMicros) {
                verdict = VerifyClass.EXPIRED;
                detail = "older than the detail and the rollup retention";
            } else {
                verdict = VerifyClass.MISSING;
                detail = "older than the detail retention, and the rollups count only " + r.rollupN
                        + " events for its tenant, type, subject and hour where the sources have " + r.sourceN;
            }
        } else {
            verdict = VerifyClass.MISSING;
            detail = "consumed by the import (before byte " + src.boundary + "), but neither stored nor "
                    + "dead-lettered" + quarantinedPart(r.timeUs);
        }
        counts.merge(verdict, 1L, Long::sum);
        src.counts.merge(verdict, 1L, Long::sum);
        if (verdict != VerifyClass.UNCHANGED) {
            int n = listed.getOrDefault(verdict, 0);
            if (n < settings.maxFindings()) {
                listed.put(verdict, n + 1);
                findings.add(new EventFinding(verdict, src.name, r.start, r.tenant, r.id, detail, diffs));
            } else {
                omitted++;
            }
        }
        if (r.firstOcc && r.tenant != null && r.id != null && r.type != null
                && (verdict == VerifyClass.UNCHANGED || verdict == VerifyClass.CHANGED
                        || verdict == VerifyClass.MISSING)) {
            Map<String, BigDecimal> numbers = new HashMap<>(8);
            JsonData.addTopLevelNumbers(r.data, numbers);
            tally(r.tenant, r.type)[0].add(numbers);
            for (Row x : rows) {
                if (x.same) {
                    tally(x.tenant, x.type)[1].add(numbers); // the very same text
                } else if (x.stored) {
                    tally(x.tenant, x.stType)[1].add(x.stData);
                }
            }
        }
    }

    /** ", in the time range of quarantined part X" when a damaged detail part may have held it. */
    private String quarantinedPart(Long timeUs) {
        if (timeUs == null) {
            return "";
        }
        Instant t = TimeUtil.fromMicros(timeUs);
        for (QuarantinedPart q : view.quarantined()) {
            if (!q.part().rollup() && !t.isBefore(q.part().minTime())
                    && !t.isAfter(q.part().maxTime())) {
                return "; its time falls in the quarantined part " + q.part().path() + " (" + q.reason() + ")";
            }
        }
        return "";
    }

    private Tally.Builder[] tally(String tenant, String type) {
        return totals.computeIfAbsent(tenant + '\u0000' + type,
                k -> new Tally.Builder[] {new Tally.Builder(), new Tally.Builder(), new Tally.Builder()});
    }

    private List<EventFinding.FieldDifference> differences(Row r) {
        if (r.same) {
            return List.of();
        }
        List<EventFinding.FieldDifference> d = new ArrayList<>();
        if (!Objects.equals(r.type, r.stType)) {
            d.add(new EventFinding.FieldDifference("type", r.type, r.stType));
        }
        if (!Objects.equals(r.subject, r.stSubject)) {
            d.add(new EventFinding.FieldDifference("subject", r.subject, r.stSubject));
        }
        if (!Objects.equals(r.source, r.stSource)) {
            d.add(new EventFinding.FieldDifference("source", r.source, r.stSource));
        }
        if (!Objects.equals(r.timeUs, r.stT)) {
            d.add(new EventFinding.FieldDifference("time", time(r.timeUs), time(r.stT)));
        }
        if (!JsonData.equal(r.data, r.stData)) {
            d.add(new EventFinding.FieldDifference("data", r.data, r.stData));
        }
        return d;
    }

    /** Stored events with no source line: totals by tenant and type, and the count. */
    private long storeOnly() throws SQLException {
        long n = 0;
        String sql = "WITH st AS (" + storeSql + ") SELECT st.tenant, st.type, st.data FROM st "
                + "WHERE NOT EXISTS (SELECT 1 FROM " + SRC + " s WHERE s.tenant = st.tenant AND s.id = st.id)";
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            while (rs.next()) {
                tally(rs.getString(1), rs.getString(2))[2].add(rs.getString(3));
                n++;
            }
        }
        return n;
    }

    private long storeDuplicates() throws SQLException {
        String sql = "WITH st AS (" + storeSql + ") SELECT count(*) FROM (SELECT tenant, id FROM st "
                + "GROUP BY tenant, id HAVING count(*) > 1)";
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private static String time(Long micros) {
        return micros == null ? null : EventCodec.formatTime(TimeUtil.fromMicros(micros));
    }

    /** One row of the classification query. */
    private record Row(long ord, int fileIdx, long start, Zone zone, boolean damaged, boolean dlq, String tenant,
            String id, String type, String subject, String source, Long timeUs, String data, String note,
            boolean firstOcc, boolean stored, boolean same, String stType, String stSubject, String stSource,
            Long stT, String stData, Long sourceN, Long rollupN) {

        static Row of(ResultSet rs) throws SQLException {
            return new Row(rs.getLong(1), rs.getInt(2), rs.getLong(3), Zone.values()[rs.getInt(4)], rs.getBoolean(5),
                    rs.getBoolean(6), rs.getString(7), rs.getString(8), rs.getString(9), rs.getString(10),
                    rs.getString(11), nullableLong(rs, 12), rs.getString(13), rs.getString(14), rs.getBoolean(15),
                    rs.getBoolean(16), rs.getBoolean(17), rs.getString(18), rs.getString(19), rs.getString(20),
                    nullableLong(rs, 21), rs.getString(22), nullableLong(rs, 23), nullableLong(rs, 24));
        }

        private static Long nullableLong(ResultSet rs, int i) throws SQLException {
            Object o = rs.getObject(i);
            return o == null ? null : ((Number) o).longValue();
        }
    }
}
