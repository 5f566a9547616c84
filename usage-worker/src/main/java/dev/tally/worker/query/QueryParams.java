package dev.tally.worker.query;

import dev.tally.store.meter.MeterQuery;
import dev.tally.store.meter.WindowSize;
import java.time.DateTimeException;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The parameters of a meter query, the same on the command line ({@code --name value}) and in the
 * HTTP API ({@code ?name=value}):
 *
 * <pre>
 * tenant        the tenant (required; with API tokens, the token's tenant)
 * from, to      the range [from, to): an instant (2026-11-01T00:00:00Z), a date-time with an offset,
 *               or a local date or date-time read in tz (2026-11-01, 2026-11-01T08:00);
 *               default: the 30 days before now
 * window        none (one value for the range), minute, hour, day or month; default none
 * tz            IANA time zone that windows and local dates are counted in; default UTC
 * subject       only these subjects (repeat, or separate with commas); default all
 * group-by      dimensions of the meter to split by (repeat, or separate with commas)
 * filter        dimension=value[,value...]: keep events whose dimension has one of the values
 * sum-subjects  true: add the subjects together instead of one row per subject
 * format        table, csv or json
 * </pre>
 *
 * <p>Thread-safe: stateless.
 */
public final class QueryParams {
    /** Every parameter name a meter query accepts. */
    public static final Set<String> NAMES = Set.of("tenant", "from", "to", "window", "tz", "subject", "group-by",
            "filter", "sum-subjects", "format");

    private QueryParams() {
    }

    /** A bad parameter: names it, its value and why. */
    public static final class BadParameter extends IllegalArgumentException {
        private static final long serialVersionUID = 1L;

        public BadParameter(String name, String value, String reason) {
            super(name + " = " + (value == null ? "(missing)" : "'" + value + "'") + ": " + reason);
        }
    }

    /** Builds the query for {@code meter}; {@code now} gives the default range. */
    public static MeterQuery parse(String meter, Map<String, List<String>> params, Instant now) {
        for (String name : params.keySet()) {
            if (!NAMES.contains(name)) {
                throw new BadParameter(name, first(params, name), "unknown parameter; allowed: "
                        + String.join(", ", NAMES.stream().sorted().toList()));
            }
        }
        String tenant = first(params, "tenant");
        if (tenant == null || tenant.isBlank()) {
            throw new BadParameter("tenant", null, "required: every query is for one tenant");
        }
        ZoneId zone = zone(first(params, "tz"));
        Instant to = first(params, "to") == null ? now.truncatedTo(ChronoUnit.MICROS)
                : time("to", first(params, "to"), zone);
        Instant from = first(params, "from") == null ? to.minus(30, ChronoUnit.DAYS)
                : time("from", first(params, "from"), zone);
        MeterQuery.Builder b = MeterQuery.builder(meter, tenant, from, to).window(window(first(params, "window")), zone);
        b.subjects(list(params, "subject"));
        b.groupBy(list(params, "group-by").toArray(new String[0]));
        Map<String, List<String>> filters = new LinkedHashMap<>();
        for (String f : params.getOrDefault("filter", List.of())) {
            int eq = f.indexOf('=');
            if (eq <= 0 || eq == f.length() - 1) {
                throw new BadParameter("filter", f, "write dimension=value or dimension=value1,value2");
            }
            filters.computeIfAbsent(f.substring(0, eq), k -> new ArrayList<>())
                    .addAll(Arrays.asList(f.substring(eq + 1).split(",")));
        }
        filters.forEach((dim, values) -> b.filter(dim, values.toArray(new String[0])));
        String sum = first(params, "sum-subjects");
        if (sum != null && !sum.equals("true") && !sum.equals("false") && !sum.isEmpty()) {
            throw new BadParameter("sum-subjects", sum, "must be true or false");
        }
        b.perSubject(!(sum != null && (sum.equals("true") || sum.isEmpty())));
        return b.build();
    }

    /** The output format: table, csv or json. */
    public static Format format(String text, Format dflt) {
        if (text == null || text.isEmpty()) {
            return dflt;
        }
        try {
            return Format.valueOf(text.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new BadParameter("format", text, "must be table, csv or json");
        }
    }

    /** How a result is written. */
    public enum Format { TABLE, CSV, JSON }

    static WindowSize window(String text) {
        if (text == null || text.isEmpty()) {
            return WindowSize.NONE;
        }
        try {
            return WindowSize.valueOf(text.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new BadParameter("window", text, "must be none, minute, hour, day or month");
        }
    }

    static ZoneId zone(String text) {
        if (text == null || text.isEmpty()) {
            return ZoneOffset.UTC;
        }
        try {
            return ZoneId.of(text);
        } catch (DateTimeException e) {
            throw new BadParameter("tz", text, "not a time zone; use an IANA name like Europe/Berlin, or UTC");
        }
    }

    /** An instant, an offset date-time, or a local date or date-time read in {@code zone}. */
    public static Instant time(String name, String text, ZoneId zone) {
        String t = text.trim();
        try {
            return Instant.parse(t);
        } catch (DateTimeException ignored) {
            // try the other forms
        }
        try {
            return OffsetDateTime.parse(t).toInstant();
        } catch (DateTimeException ignored) {
            // try the other forms
        }
        try {
            return LocalDateTime.parse(t).atZone(zone).toInstant();
        } catch (DateTimeException ignored) {
            // try the other forms
        }
        try {
            return LocalDate.parse(t).atStartOfDay(zone).toInstant();
        } catch (DateTimeException e) {
            throw new BadParameter(name, text, "not a time; use 2026-11-01, 2026-11-01T08:00, "
                    + "2026-11-01T08:00:00Z or 2026-11-01T08:00:00+01:00");
        }
    }

    static String first(Map<String, List<String>> params, String name) {
        List<String> v = params.get(name);
        return v == null || v.isEmpty() ? null : v.get(0);
    }

    /** Every value of a repeatable parameter, commas splitting further; blanks dropped. */
    static List<String> list(Map<String, List<String>> params, String name) {
        List<String> out = new ArrayList<>();
        for (String v : params.getOrDefault(name, List.of())) {
            for (String part : v.split(",")) {
                if (!part.isBlank()) {
                    out.add(part.trim());
                }
            }
        }
        return out;
    }
}
