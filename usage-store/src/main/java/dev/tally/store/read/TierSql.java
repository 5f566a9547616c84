package dev.tally.store.read;

import dev.tally.store.engine.Engine;
import dev.tally.store.engine.TimeUtil;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * The one place that turns a view into SQL: the events of a tenant between two times from the
 * detail tier (published parts and live segments), and hourly rollups, from rollup parts or
 * computed from detail. Meters, the SQL sandbox, exports, the verifier and the sealer build on
 * it, so "which files and tables hold this range" and "which rows of them count" are written
 * once.
 *
 * <p>Values reach SQL only as quoted literals ({@link Engine#literal}) or timestamps built from
 * {@link Instant}s; callers check that tenant names hold no NUL. Stateless and thread-safe.
 */
public final class TierSql {
    /** The stored columns of an event (the segments' {@code key_hash} is not part of an event). */
    public static final String EVENT_COLUMNS = "tenant, id, type, subject, source, time, data";

    /** The stored columns of an hourly rollup row. */
    public static final String ROLLUP_COLUMNS =
            "tenant, type, subject, hour, property, value_count, value_sum, value_min, value_max";

    /** Above this many distinct top-level keys in a source, rollups extract key by key (slower). */
    public static final int MAX_ROLLUP_KEYS = 256;

    /** An event relation with no rows, typed like the detail tier, for a view with no source. */
    private static final String NO_EVENTS = "(SELECT NULL::VARCHAR AS tenant, NULL::VARCHAR AS id, "
            + "NULL::VARCHAR AS type, NULL::VARCHAR AS subject, NULL::VARCHAR AS source, NULL::TIMESTAMP AS time, "
            + "NULL::VARCHAR AS data WHERE false)";

    private TierSql() {
    }

    /** {@code read_parquet([...])} over the parts' files; with {@code filename} a column naming each row's file. */
    public static String parquet(List<? extends PartFile> parts, boolean withFilename) {
        List<Path> files = new ArrayList<>(parts.size());
        for (PartFile p : parts) {
            files.add(p.file());
        }
        return parquetFiles(files, withFilename);
    }

    /** {@code read_parquet([...])} over Parquet files. */
    public static String parquetFiles(List<Path> files, boolean withFilename) {
        StringBuilder sb = new StringBuilder("read_parquet([");
        for (int i = 0; i < files.size(); i++) {
            sb.append(i == 0 ? "" : ", ").append(Engine.literal(files.get(i)));
        }
        return sb.append(']').append(withFilename ? ", filename = true" : "").append(')').toString();
    }

    /**
     * {@code " WHERE tenant = … AND time >= … AND time < …"} for the events of {@code tenant} in
     * {@code [from, to)}; a null argument leaves its condition out, and all null give "".
     */
    public static String where(String tenant, Instant from, Instant to) {
        return where("time", tenant, from, to);
    }

    private static String where(String timeColumn, String tenant, Instant from, Instant to) {
        List<String> c = new ArrayList<>(3);
        if (tenant != null) {
            c.add("tenant = " + Engine.literal(tenant));
        }
        if (from != null) {
            c.add(timeColumn + " >= " + TimeUtil.sqlTimestamp(from));
        }
        if (to != null) {
            c.add(timeColumn + " < " + TimeUtil.sqlTimestamp(to));
        }
        return c.isEmpty() ? "" : " WHERE " + String.join(" AND ", c);
    }

    /**
     * The FROM-able sources of the view's detail tier that may hold events in {@code [from, to)}:
     * one {@code read_parquet} over the detail parts (when there are any), then each segment's
     * table.
     */
    public static List<String> detailSources(ReadView view, Instant from, Instant to) {
        return sources(view.detailParts(from, to), overlapping(view.segments(), from, to));
    }

    /** The segments of {@code segments} that may hold events in {@code [from, to)} (all of them when either is null). */
    public static List<SegmentSource> overlapping(List<? extends SegmentSource> segments, Instant from, Instant to) {
        List<SegmentSource> out = new ArrayList<>();
        for (SegmentSource s : segments) {
            if (from == null || to == null || s.overlaps(from, to)) {
                out.add(s);
            }
        }
        return out;
    }

    private static List<String> sources(List<? extends PartFile> parts, List<? extends SegmentSource> segments) {
        List<String> out = new ArrayList<>();
        if (!parts.isEmpty()) {
            out.add(parquet(parts, false));
        }
        for (SegmentSource s : segments) {
            out.add(s.eventsTable());
        }
        return out;
    }

    /**
     * The events of {@code tenant} in {@code [from, to)} held by the view's detail tier, as one
     * relation of {@code columns} (an expression list over {@link #EVENT_COLUMNS}); a relation
     * with no rows when no part or segment may hold any. Null tenant, from or to mean no bound.
     */
    public static String events(ReadView view, String columns, String tenant, Instant from, Instant to) {
        Instant lo = from == null ? TimeUtil.MIN : from;
        Instant hi = to == null ? TimeUtil.MAX : to;
        return events(view.detailParts(lo, hi), overlapping(view.segments(), from, to), columns, tenant, from, to);
    }

    /**
     * Like {@link #events(ReadView, String, String, Instant, Instant)}, each source passed through
     * {@code filter} (e.g. without corrected events) and {@code extra} (a source of its own, e.g.
     * amended events' new values; null for none) added.
     */
    public static String events(ReadView view, String columns, String tenant, Instant from, Instant to,
            java.util.function.UnaryOperator<String> filter, String extra) {
        Instant lo = from == null ? TimeUtil.MIN : from;
        Instant hi = to == null ? TimeUtil.MAX : to;
        return events(view.detailParts(lo, hi), overlapping(view.segments(), from, to), columns, tenant, from, to,
                filter, extra);
    }

    /** Like {@link #events(ReadView, String, String, Instant, Instant)} over sources the caller chose. */
    public static String events(List<? extends PartFile> parts, List<? extends SegmentSource> segments,
            String columns, String tenant, Instant from, Instant to) {
        return events(parts, segments, columns, tenant, from, to, java.util.function.UnaryOperator.identity(), null);
    }

    private static String events(List<? extends PartFile> parts, List<? extends SegmentSource> segments,
            String columns, String tenant, Instant from, Instant to, java.util.function.UnaryOperator<String> filter,
            String extra) {
        String where = where(tenant, from, to);
        List<String> selects = new ArrayList<>();
        for (String source : sources(parts, segments)) {
            selects.add("SELECT " + columns + " FROM " + filter.apply(source) + where);
        }
        if (extra != null) {
            selects.add("SELECT " + columns + " FROM " + extra + where);
        }
        if (selects.isEmpty()) {
            return "SELECT " + columns + " FROM " + NO_EVENTS;
        }
        return String.join(" UNION ALL ", selects);
    }

    /**
     * The rows of hourly rollup parts of {@code tenant} whose hour is in {@code [fromHour, to)}, as
     * {@code columns} (over {@link #ROLLUP_COLUMNS}, and {@code filename} when asked for); null
     * bounds leave their condition out.
     * The caller makes sure {@code parts} is not empty.
     */
    public static String rollups(List<? extends PartFile> parts, String columns, boolean withFilename, String tenant,
            Instant fromHour, Instant to) {
        return "SELECT " + columns + " FROM " + parquet(parts, withFilename) + where("hour", tenant, fromHour, to);
    }

    /**
     * Hourly rollups of the events of {@code source} with time in {@code [from, to)} (SQL
     * timestamp expressions): one row per tenant, type, subject and hour with {@code property}
     * NULL holding the event count, plus one row per top-level numeric property with count,
     * exact sum, min and max; {@link #ROLLUP_COLUMNS}, sorted.
     *
     * <p>Numbers are read with {@code json_transform} to DECIMAL(38,9), which converts the JSON
     * text exactly; {@code json_extract} goes through a double and loses digits past about 16
     * significant ones. {@code json_type} decides what is a number, so a string such as
     * {@code "12"} (which the transform would convert) is not counted.
     *
     * @param keys the distinct top-level keys of {@code data} in the source; with them every row
     *             is parsed once into a typed struct, several times faster than a MAP per row.
     *             Null means unknown (a MAP per row).
     */
    public static String hourlyRollups(String source, String from, String to, List<String> keys) {
        String rows = "SELECT tenant, type, subject, date_trunc('hour', time) AS hour, data FROM " + source
                + " WHERE time >= " + from + " AND time < " + to;
        String kv;
        if (keys != null && !keys.isEmpty() && keys.size() <= MAX_ROLLUP_KEYS) {
            com.fasterxml.jackson.databind.node.ObjectNode spec =
                    com.fasterxml.jackson.databind.node.JsonNodeFactory.instance.objectNode();
            StringBuilder names = new StringBuilder("[");
            StringBuilder values = new StringBuilder("[");
            StringBuilder paths = new StringBuilder("[");
            for (int i = 0; i < keys.size(); i++) {
                String k = keys.get(i);
                spec.put(k, "DECIMAL(38,9)");
                String sep = i == 0 ? "" : ", ";
                names.append(sep).append(Engine.literal(k));
                values.append(sep).append("struct_extract(vals, ").append(Engine.literal(k)).append(')');
                paths.append(sep).append(Engine.literal("/" + k.replace("~", "~0").replace("/", "~1")));
            }
            kv = "kv AS (SELECT tenant, type, subject, hour, unnest(" + names + "]) AS property, unnest(" + values
                    + "]) AS x, unnest(types) AS t FROM (SELECT *, json_transform(data, " + Engine.literal(spec.toString())
                    + ") AS vals, json_type(data, " + paths + "]) AS types FROM src))";
        } else {
            kv = "kv AS (SELECT tenant, type, subject, hour, e.key AS property, e.value AS x, "
                    + "json_type(data, '/' || replace(replace(e.key, '~', '~0'), '/', '~1')) AS t "
                    + "FROM (SELECT *, unnest(map_entries(json_transform(data, '\"MAP(VARCHAR, DECIMAL(38,9))\"'))) AS e "
                    + "FROM src))";
        }
        return "WITH src AS (" + rows + "), " + kv + ", "
                + "nums AS (SELECT tenant, type, subject, hour, property, x "
                + "FROM kv WHERE t IN ('BIGINT', 'UBIGINT', 'DOUBLE', 'HUGEINT')) "
                + "SELECT tenant, type, subject, hour, NULL::VARCHAR AS property, count(*) AS value_count, "
                + "NULL::DECIMAL(38,9) AS value_sum, NULL::DECIMAL(38,9) AS value_min, NULL::DECIMAL(38,9) AS value_max "
                + "FROM src GROUP BY ALL "
                + "UNION ALL SELECT tenant, type, subject, hour, property, count(x), sum(x), min(x), max(x) "
                + "FROM nums GROUP BY ALL "
                + "ORDER BY tenant, type, subject, hour, property NULLS FIRST";
    }
}
