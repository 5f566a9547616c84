package dev.tally.store.meter;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/** A query checked against its meter: parsed paths, merged filters, windows. Immutable. */
final class ResolvedQuery {
    record Filter(JsonPath path, List<String> values) {
    }

    final MeterDefinition meter;
    final MeterQuery query;
    final JsonPath value;
    final MeterSql.ValueKind valueKind;
    final List<JsonPath> groups;
    final List<Filter> filters;
    final Windows windows;

    ResolvedQuery(MeterDefinition meter, MeterQuery query) {
        this.meter = meter;
        this.query = query;
        this.value = meter.valuePath();
        Aggregation a = meter.aggregation();
        this.valueKind = value == null ? MeterSql.ValueKind.NONE
                : a == Aggregation.UNIQUE_COUNT ? MeterSql.ValueKind.TEXT : MeterSql.ValueKind.DECIMAL;
        List<JsonPath> g = new ArrayList<>();
        for (String dim : query.groupBy()) {
            String path = meter.groupBy().get(dim);
            if (path == null) {
                throw new InvalidMeterException("groupBy", dim, "meter '" + meter.name() + "' has no such dimension; "
                        + "it has " + meter.groupBy().keySet());
            }
            g.add(JsonPath.parse("groupBy." + dim, path));
        }
        this.groups = List.copyOf(g);
        List<Filter> f = new ArrayList<>();
        for (var e : meter.filters().entrySet()) {
            f.add(new Filter(JsonPath.parse("filters", e.getKey()), e.getValue()));
        }
        for (var e : query.filters().entrySet()) {
            String path = meter.groupBy().get(e.getKey());
            if (path == null) {
                throw new InvalidMeterException("filters", e.getKey(), "meter '" + meter.name() + "' has no such "
                        + "dimension to filter on; it has " + meter.groupBy().keySet());
            }
            f.add(new Filter(JsonPath.parse("groupBy." + e.getKey(), path), e.getValue()));
        }
        f.sort(Comparator.comparing((Filter x) -> x.path().pointer()).thenComparing(x -> x.values().toString()));
        this.filters = List.copyOf(f);
        this.windows = Windows.plan(query.window(), query.zone(), query.from(), query.to());
    }

    /** Why hourly rollups cannot answer this exactly, or null when they can. */
    String rollupRefusal() {
        Aggregation a = meter.aggregation();
        if (query.detailOnly()) {
            return "the query asked for detail only";
        }
        if (!a.decomposable()) {
            return a + " needs every single value, which hourly rollups do not keep";
        }
        if (!groups.isEmpty()) {
            return "grouped by " + query.groupBy() + ": hourly rollups keep no event properties to group by";
        }
        if (!filters.isEmpty()) {
            return "filtered on event properties, which hourly rollups do not keep";
        }
        if (value != null && !value.topLevel()) {
            return "the value property " + value + " is nested; hourly rollups keep top-level numbers only";
        }
        if (query.window() == WindowSize.MINUTE) {
            return "MINUTE windows are finer than the hourly rollups";
        }
        if (!windows.hourAligned()) {
            String note = windows.offsetNote();
            return note != null ? "windows do not fall on whole UTC hours: " + note
                    : "from, to or a window boundary is not on a whole UTC hour";
        }
        return null;
    }

    /**
     * Whether the partials must carry min and max: only a MIN or MAX meter reads them, and leaving
     * them out spares reading two columns of every rollup row group a query touches.
     */
    boolean extremes() {
        Aggregation a = meter.aggregation();
        return a == Aggregation.MIN || a == Aggregation.MAX;
    }

    /** The cache identity of this query's per-part partials, minus the range. */
    PartialShape shape(boolean rollup) {
        List<String> g = groups.stream().map(JsonPath::pointer).toList();
        List<List<String>> f = new ArrayList<>();
        for (Filter x : filters) {
            List<String> l = new ArrayList<>();
            l.add(x.path().pointer());
            l.addAll(x.values());
            f.add(List.copyOf(l));
        }
        return new PartialShape(rollup, query.tenant(), meter.eventType(), value == null ? null : value.pointer(),
                query.subjects(), query.perSubject(), g, List.copyOf(f), query.window(),
                query.window() == WindowSize.NONE ? null : query.zone().getId(), extremes());
    }

    /** Everything that decides a part's partials except the part and the range. */
    record PartialShape(boolean rollup, String tenant, String type, String valuePointer,
            List<String> subjects, boolean perSubject, List<String> groupPointers, List<List<String>> filters,
            WindowSize window, String zone, boolean extremes) {
    }
}
