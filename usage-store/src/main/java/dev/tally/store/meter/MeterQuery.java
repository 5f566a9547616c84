package dev.tally.store.meter;

import dev.tally.store.EventRules;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeSet;

/**
 * One question to a meter: its value per window, subject and group over {@code [from, to)} for
 * one tenant. Build with {@link #builder}. The checks that need no registry run here and name
 * the field, the value and the reason; the rest (meter exists, dimensions exist) run in
 * {@link MeterService#query}.
 *
 * @param meter      the meter's name
 * @param tenant     the tenant whose events are measured; required
 * @param from       inclusive start; whole microseconds (event times are stored in microseconds)
 * @param to         exclusive end; after {@code from}
 * @param window     window length on the wall clock of {@code zone}
 * @param zone       IANA time zone the windows are counted in; results carry its offsets
 * @param subjects   the subjects to measure, sorted; empty means all
 * @param perSubject one row per subject (true) or subjects summed together (false)
 * @param groupBy    dimensions of the meter to split by, in result order
 * @param filters    dimension name to allowed values (text, as in {@link MeterDefinition#filters})
 * @param detailOnly answer from detail even where hourly rollups would be exact (to audit rollups
 *                   against detail, or to measure both); the result is the same
 */
public record MeterQuery(
        String meter,
        String tenant,
        Instant from,
        Instant to,
        WindowSize window,
        ZoneId zone,
        List<String> subjects,
        boolean perSubject,
        List<String> groupBy,
        Map<String, List<String>> filters,
        boolean detailOnly) {

    /** Most subjects one query may name. */
    public static final int MAX_SUBJECTS = 10_000;

    public MeterQuery {
        if (meter == null || meter.isEmpty()) {
            throw new InvalidMeterException("meter", meter, "is required");
        }
        if (tenant == null || tenant.isEmpty()) {
            throw new InvalidMeterException("tenant", tenant, "is required: every query is scoped to one tenant");
        }
        if (!EventRules.isTenant(tenant)) {
            throw new InvalidMeterException("tenant", tenant, "must start with a letter or digit and contain only "
                    + "letters, digits, '.', '_' and '-', at most 64 characters");
        }
        checkTime("from", from);
        checkTime("to", to);
        if (!from.isBefore(to)) {
            throw new InvalidMeterException("to", to, "must be after from = " + from + " (to is exclusive)");
        }
        if (window == null) {
            throw new InvalidMeterException("window", null, "is required; one of " + List.of(WindowSize.values()));
        }
        if (zone == null) {
            throw new InvalidMeterException("zone", null, "is required, e.g. Europe/Berlin or UTC");
        }
        TreeSet<String> subs = new TreeSet<>();
        if (subjects != null) {
            for (String s : subjects) {
                if (s == null || s.isEmpty() || s.length() > 256 || s.indexOf('\0') >= 0) {
                    throw new InvalidMeterException("subjects", s, "a subject must be 1 to 256 characters without "
                            + "NUL");
                }
                subs.add(s);
            }
        }
        if (subs.size() > MAX_SUBJECTS) {
            throw new InvalidMeterException("subjects", subs.size() + " subjects", "at most " + MAX_SUBJECTS
                    + " per query; leave empty for all");
        }
        subjects = List.copyOf(subs);
        LinkedHashSet<String> groups = new LinkedHashSet<>();
        if (groupBy != null) {
            for (String g : groupBy) {
                if (g == null || !groups.add(g)) {
                    throw new InvalidMeterException("groupBy", g, g == null ? "a dimension name is null"
                            : "named twice");
                }
            }
        }
        groupBy = List.copyOf(groups);
        LinkedHashMap<String, List<String>> f = new LinkedHashMap<>();
        if (filters != null) {
            for (var e : new java.util.TreeMap<>(filters).entrySet()) {
                List<String> vals = MeterDefinition.checkedValues("filters[" + e.getKey() + "]", e.getValue());
                for (String v : vals) {
                    if (v.indexOf('\0') >= 0) {
                        throw new InvalidMeterException("filters[" + e.getKey() + "]", v, "contains NUL");
                    }
                }
                f.put(e.getKey(), vals);
            }
        }
        filters = Collections.unmodifiableMap(f);
    }

    private static void checkTime(String field, Instant t) {
        if (t == null) {
            throw new InvalidMeterException(field, null, "is required");
        }
        if (t.getNano() % 1_000 != 0) {
            throw new InvalidMeterException(field, t, "has digits below a microsecond; event times are stored in "
                    + "whole microseconds, so such a bound would be ambiguous");
        }
    }

    /** A query for {@code meter} and {@code tenant} over {@code [from, to)}: one window, UTC, every subject. */
    public static Builder builder(String meter, String tenant, Instant from, Instant to) {
        return new Builder(meter, tenant, from, to);
    }

    /** Builds a {@link MeterQuery}; defaults: window NONE, zone UTC, all subjects, per subject, no groups or filters. */
    public static final class Builder {
        private final String meter;
        private final String tenant;
        private final Instant from;
        private final Instant to;
        private WindowSize window = WindowSize.NONE;
        private ZoneId zone = ZoneOffset.UTC;
        private final List<String> subjects = new ArrayList<>();
        private boolean perSubject = true;
        private final List<String> groupBy = new ArrayList<>();
        private final Map<String, List<String>> filters = new LinkedHashMap<>();
        private boolean detailOnly;

        private Builder(String meter, String tenant, Instant from, Instant to) {
            this.meter = meter;
            this.tenant = tenant;
            this.from = from;
            this.to = to;
        }

        public Builder window(WindowSize size, ZoneId zone) {
            this.window = size;
            this.zone = zone;
            return this;
        }

        public Builder window(WindowSize size) {
            this.window = size;
            return this;
        }

        public Builder zone(ZoneId zone) {
            this.zone = zone;
            return this;
        }

        public Builder subjects(String... subjects) {
            this.subjects.addAll(Arrays.asList(subjects));
            return this;
        }

        public Builder subjects(List<String> subjects) {
            this.subjects.addAll(subjects);
            return this;
        }

        public Builder perSubject(boolean perSubject) {
            this.perSubject = perSubject;
            return this;
        }

        public Builder groupBy(String... dimensions) {
            this.groupBy.addAll(Arrays.asList(dimensions));
            return this;
        }

        public Builder filter(String dimension, String... allowed) {
            this.filters.put(dimension, Arrays.asList(allowed));
            return this;
        }

        /** Read detail even where rollups would be exact; see {@link MeterQuery#detailOnly()}. */
        public Builder detailOnly(boolean detailOnly) {
            this.detailOnly = detailOnly;
            return this;
        }

        public MeterQuery build() {
            return new MeterQuery(meter, tenant, from, to, window, zone, subjects, perSubject, groupBy, filters,
                    detailOnly);
        }
    }

    /** The same query with another range (handy for paging through months). */
    public MeterQuery withRange(Instant newFrom, Instant newTo) {
        return new MeterQuery(meter, tenant, newFrom, newTo, window, zone, subjects, perSubject, groupBy, filters,
                detailOnly);
    }

    @Override
    public String toString() {
        return "MeterQuery[" + meter + " for " + tenant + " " + from + ".." + to + " " + window + " " + zone
                + (subjects.isEmpty() ? "" : " subjects=" + subjects) + (perSubject ? "" : " summed")
                + (groupBy.isEmpty() ? "" : " groupBy=" + groupBy) + (filters.isEmpty() ? "" : " filters=" + filters)
                + (detailOnly ? " detailOnly" : "") + "]";
    }

}
