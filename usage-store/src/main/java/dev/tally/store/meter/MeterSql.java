package dev.tally.store.meter;

import dev.tally.store.engine.Engine;
import dev.tally.store.read.PartFile;
import dev.tally.store.read.TierSql;
import java.util.List;

/**
 * Builds the SQL of a resolved meter query. Paths reach SQL only through {@link JsonPath}'s
 * quoted pointer and structure literals; tenant, type, subjects and filter values as quoted
 * literals ({@link Engine#literal}; none may contain NUL, checked before). Nothing here is
 * taken from SQL text a caller wrote.
 */
final class MeterSql {
    private MeterSql() {
    }

    /** What a query reads of each event, decided once per query. */
    enum ValueKind {
        /** No value: COUNT without a value property. */
        NONE,
        /** Exact DECIMAL(38,9) number. */
        DECIMAL,
        /** Text for UNIQUE_COUNT. */
        TEXT
    }

    /**
     * The WHERE clause on stored columns shared by detail reads: the tier's tenant and range
     * ({@link TierSql#where}), then type and subjects.
     */
    private static String baseWhere(ResolvedQuery r) {
        StringBuilder w = new StringBuilder(TierSql.where(r.query.tenant(), r.query.from(), r.query.to()))
                .append(" AND type = ").append(Engine.literal(r.meter.eventType()));
        subjects(w, r);
        return w.toString();
    }

    private static String inList(List<String> values) {
        StringBuilder sb = new StringBuilder(" IN (");
        for (int i = 0; i < values.size(); i++) {
            sb.append(i == 0 ? "" : ", ").append(Engine.literal(values.get(i)));
        }
        return sb.append(')').toString();
    }

    private static void subjects(StringBuilder w, ResolvedQuery r) {
        w.append(subjectsSql(r));
    }

    /** {@code " AND subject IN (…)"} for the query's subjects, or "" for all. */
    private static String subjectsSql(ResolvedQuery r) {
        List<String> subjects = r.query.subjects();
        return subjects.isEmpty() ? "" : " AND subject" + inList(subjects);
    }

    /**
     * The per-event projection of a detail source: optional file name, time in microseconds as
     * {@code t}, subject as {@code s}, group values {@code g0..}, value {@code v}, and {@code id};
     * filtered by tenant, type, range, subjects and the filters.
     *
     * <p>Each event's JSON is parsed once for every path together ({@code json_transform} to a
     * structure of JSON texts) and once more, only when the value is a number, for its exact
     * DECIMAL; when one path is a prefix of another that structure cannot be built and each path
     * is read on its own.
     */
    static String detailRows(ResolvedQuery r, String source, String fileColumn) {
        List<JsonPath> paths = new java.util.ArrayList<>(r.groups);
        r.filters.forEach(f -> paths.add(f.path()));
        if (r.value != null) {
            paths.add(r.value);
        }
        String spec = paths.isEmpty() ? null : JsonPath.jsonSpec(paths);
        StringBuilder sb = new StringBuilder("SELECT ");
        if (fileColumn != null) {
            sb.append("f, ");
        }
        sb.append("epoch_us(time) AS t, ").append(r.query.perSubject() ? "subject" : "NULL::VARCHAR").append(" AS s");
        for (int i = 0; i < r.groups.size(); i++) {
            sb.append(", ").append(text(r.groups.get(i), spec)).append(" AS g").append(i);
        }
        sb.append(", ").append(switch (r.valueKind) {
            case NONE -> "NULL::DECIMAL(38,9)";
            case DECIMAL -> spec == null ? r.value.decimalSql("data") : r.value.decimalFromJsonSql("j" + r.value.subscript(), "data");
            case TEXT -> text(r.value, spec);
        }).append(" AS v, id FROM (SELECT ");
        if (fileColumn != null) {
            sb.append(fileColumn).append(" AS f, ");
        }
        sb.append("time, subject, id, data");
        if (spec != null) {
            sb.append(", json_transform(data, ").append(Engine.literal(spec)).append(") AS j");
        }
        sb.append(" FROM ").append(source).append(baseWhere(r)).append(')');
        String and = " WHERE ";
        for (ResolvedQuery.Filter f : r.filters) {
            sb.append(and).append(text(f.path(), spec)).append(inList(f.values()));
            and = " AND ";
        }
        return sb.toString();
    }

    private static String text(JsonPath p, String spec) {
        return spec == null ? p.textSql("data") : p.textFromJsonSql("j" + p.subscript(), "data");
    }

    /** FROM clause over projected rows with the window start as {@code ws}: arithmetic or an ASOF join. */
    private static String windowed(ResolvedQuery r, String rows, StringBuilder select) {
        String arithmetic = r.windows.arithmeticSql("e.t");
        if (arithmetic != null) {
            select.append(arithmetic).append(" AS ws");
            return " FROM (" + rows + ") e";
        }
        select.append("w.ws AS ws");
        return " FROM (" + rows + ") e ASOF JOIN " + r.windows.startsSql() + " w ON e.t >= w.ws";
    }

    private static void keys(ResolvedQuery r, StringBuilder select) {
        select.append(", e.s");
        for (int i = 0; i < r.groups.size(); i++) {
            select.append(", e.g").append(i);
        }
    }

    /**
     * Partials (events, values, sum, min, max) per file (when {@code fileColumn} is given), window,
     * subject and group, from detail. Columns: [f], ws, s, g0.., n, nv, sv, mn, mx.
     */
    static String detailPartials(ResolvedQuery r, String source, String fileColumn) {
        StringBuilder select = new StringBuilder("SELECT ");
        if (fileColumn != null) {
            select.append("e.f, ");
        }
        String from = windowed(r, detailRows(r, source, fileColumn), select);
        keys(r, select);
        select.append(", count(*) AS n, count(e.v) AS nv, sum(e.v) AS sv, ")
                .append(r.extremes() ? "min(e.v) AS mn, max(e.v) AS mx" : NO_EXTREMES);
        return select + from + " GROUP BY ALL";
    }

    /** Min and max of a query that does not need them (see {@link ResolvedQuery#extremes}). */
    private static final String NO_EXTREMES = "NULL::DECIMAL(38,9) AS mn, NULL::DECIMAL(38,9) AS mx";

    /** {@code partials} (columns ws, s, g0.., n, nv, sv, mn, mx) with a NULL file column {@code f} in front. */
    static String withoutFile(String partials) {
        return "SELECT NULL::VARCHAR AS f, * FROM (" + partials + ")";
    }

    /**
     * {@code partials} (columns ws, s, g0.., n, nv, sv, mn, mx) with a NULL file column in front
     * and the counts and sum negated: what a source of corrected events' originals takes back
     * out of hourly rollups. Min and max cannot be taken back; MIN and MAX never come here.
     */
    static String negated(ResolvedQuery r, String partials) {
        StringBuilder sb = new StringBuilder("SELECT NULL::VARCHAR AS f, o.ws, o.s");
        for (int i = 0; i < r.groups.size(); i++) {
            sb.append(", o.g").append(i);
        }
        return sb.append(", -o.n AS n, -o.nv AS nv, -o.sv AS sv, ").append(NO_EXTREMES).append(" FROM (")
                .append(partials).append(") o").toString();
    }

    /**
     * One statement over several partials statements of the same columns (f, ws, s, g0.., n, nv,
     * sv, mn, mx): every source of an answer is read in one engine round trip, not one per part
     * list, segment and corrections source.
     */
    static String union(List<String> partials) {
        StringBuilder sb = new StringBuilder();
        for (String p : partials) {
            sb.append(sb.isEmpty() ? "" : " UNION ALL ").append("SELECT * FROM (").append(p).append(')');
        }
        return sb.toString();
    }

    /**
     * Partials per file (with {@code perFile}; otherwise {@code f} is NULL and the parts are
     * summed together), window and subject from hourly rollup parts. Columns: f, ws, s, n, nv,
     * sv, mn, mx. The event-count row of each hour has {@code property} NULL. Only the columns the
     * answer needs are read: no value columns for a count, no min and max unless asked for.
     * (Parts answered from their totals never come here: see {@link TotalsLookup}.)
     */
    static String rollupPartials(ResolvedQuery r, List<? extends PartFile> parts, boolean perFile) {
        String prop = r.value == null ? null : Engine.literal(r.value.keys().get(0));
        String values = prop == null ? "" : r.extremes() ? ", value_sum, value_min, value_max" : ", value_sum";
        // Parts the manifest puts wholly inside the range need no range test, and one window needs
        // no hour: the engine then neither decodes nor tests the hour column, about a fifth of a
        // monthly answer's time over a compacted month at 100M events.
        boolean inside = parts.stream().allMatch(p -> p.part().within(r.query.from(), r.query.to()));
        boolean oneWindow = inside && r.windows.single();
        String hour = oneWindow ? "NULL::BIGINT" : "epoch_us(hour)";
        String file = perFile ? "filename" : "NULL::VARCHAR";
        String subject = r.query.perSubject() ? "subject" : "NULL::VARCHAR";
        String filter = " AND type = " + Engine.literal(r.meter.eventType()) + subjectsSql(r)
                + " AND (property IS NULL" + (prop == null ? "" : " OR property = " + prop) + ")";
        String rows = TierSql.rollups(parts, file + " AS f, " + hour + " AS t, " + subject
                + " AS s, property, value_count" + values, perFile, r.query.tenant(),
                inside ? null : r.query.from(), inside ? null : r.query.to()) + filter;
        return hourlyPartials(r, prop, rows);
    }

    /** Partials (columns f, ws, s, n, nv, sv, mn, mx) of hourly rollup rows, grouped by file, window and subject. */
    private static String hourlyPartials(ResolvedQuery r, String prop, String rows) {
        StringBuilder select = new StringBuilder("SELECT e.f, ");
        String from = windowed(r, rows, select);
        select.append(", e.s, CAST(coalesce(sum(e.value_count) FILTER (WHERE e.property IS NULL), 0) AS BIGINT) AS n");
        if (prop == null) {
            select.append(", 0::BIGINT AS nv, NULL::DECIMAL(38,9) AS sv, NULL::DECIMAL(38,9) AS mn, "
                    + "NULL::DECIMAL(38,9) AS mx");
        } else {
            String f = " FILTER (WHERE e.property = " + prop + ")";
            select.append(", CAST(coalesce(sum(e.value_count)").append(f).append(", 0) AS BIGINT) AS nv")
                    .append(", sum(e.value_sum)").append(f).append(" AS sv, ");
            if (r.extremes()) {
                select.append("min(e.value_min)").append(f).append(" AS mn")
                        .append(", max(e.value_max)").append(f).append(" AS mx");
            } else {
                select.append(NO_EXTREMES);
            }
        }
        return select + from + " GROUP BY ALL";
    }

    /**
     * Values of aggregations that need every value (UNIQUE_COUNT, LATEST, percentiles) over the
     * union of all sources. Columns: ws, s, g0.., n, val.
     */
    static String holistic(ResolvedQuery r, List<String> sources) {
        StringBuilder union = new StringBuilder();
        for (String src : sources) {
            if (!union.isEmpty()) {
                union.append(" UNION ALL ");
            }
            union.append(detailRows(r, src, null));
        }
        StringBuilder select = new StringBuilder("SELECT ");
        String from = windowed(r, union.toString(), select);
        keys(r, select);
        Aggregation a = r.meter.aggregation();
        select.append(", count(*) AS n, ").append(switch (a) {
            case UNIQUE_COUNT -> "count(DISTINCT e.v)";
            case LATEST -> "max_by(e.v, (e.t, e.id)) FILTER (WHERE e.v IS NOT NULL)";
            case P50, P90, P95, P99 -> "quantile_disc(e.v, " + a.quantile() + ")";
            default -> throw new IllegalStateException(a + " combines from partials");
        }).append(" AS val");
        return select + from + " GROUP BY ALL";
    }
}
