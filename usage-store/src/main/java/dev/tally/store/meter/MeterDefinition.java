package dev.tally.store.meter;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * What to measure: events of one {@code eventType}, aggregated over the JSON number at
 * {@code valueProperty}, optionally split by {@code groupBy} dimensions and restricted by
 * {@code filters}.
 *
 * <p>Every check runs in the constructor and names the field, the value and the reason. JSON
 * paths are {@code $.name.name} or {@code $["any key"]} steps only (see {@code docs/querying.md});
 * they are never put into SQL as text.
 *
 * @param name          {@code [A-Za-z][A-Za-z0-9_.-]*}, at most 64 characters; unique in a registry
 * @param eventType     the event {@code type} it counts, e.g. {@code llm.request}
 * @param aggregation   how values combine in a window
 * @param valueProperty JSON path of the value; required except for {@link Aggregation#COUNT}
 * @param groupBy       dimension name ({@code [A-Za-z_][A-Za-z0-9_]*}) to JSON path, at most
 *                      {@value #MAX_GROUP_BY}; a query may group by any subset
 * @param filters       JSON path to the allowed values (compared as text, see
 *                      {@link Aggregation#UNIQUE_COUNT} for how values become text); an event
 *                      counts only if every filtered path holds one of its values; at most
 *                      {@value #MAX_FILTERS}
 */
public record MeterDefinition(
        String name,
        String eventType,
        Aggregation aggregation,
        String valueProperty,
        Map<String, String> groupBy,
        Map<String, List<String>> filters) {

    public static final int MAX_NAME = 64;
    public static final int MAX_EVENT_TYPE = 128;
    public static final int MAX_GROUP_BY = 16;
    public static final int MAX_FILTERS = 16;
    public static final int MAX_FILTER_VALUES = 1_000;
    public static final int MAX_FILTER_VALUE = 256;

    private static final Pattern NAME = Pattern.compile("[A-Za-z][A-Za-z0-9_.-]*");
    private static final Pattern GROUP_NAME = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*");

    public MeterDefinition {
        if (name == null || name.isEmpty()) {
            throw new InvalidMeterException("name", name, "is required");
        }
        if (name.length() > MAX_NAME || !NAME.matcher(name).matches()) {
            throw new InvalidMeterException("name", name, "must start with a letter and contain only letters, "
                    + "digits, '_', '.' and '-', at most " + MAX_NAME + " characters");
        }
        if (eventType == null || eventType.isEmpty()) {
            throw new InvalidMeterException("eventType", eventType, "is required");
        }
        if (eventType.length() > MAX_EVENT_TYPE || eventType.chars().anyMatch(Character::isISOControl)) {
            throw new InvalidMeterException("eventType", eventType, "must be at most " + MAX_EVENT_TYPE
                    + " characters without control characters");
        }
        if (aggregation == null) {
            throw new InvalidMeterException("aggregation", null, "is required; one of " + List.of(Aggregation.values()));
        }
        if (valueProperty == null || valueProperty.isEmpty()) {
            if (aggregation.needsValueProperty()) {
                throw new InvalidMeterException("valueProperty", valueProperty, "is required for " + aggregation
                        + " (only COUNT may go without)");
            }
            valueProperty = null;
        } else {
            JsonPath.parse("valueProperty", valueProperty);
        }
        groupBy = groupBy == null ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(groupBy));
        if (groupBy.size() > MAX_GROUP_BY) {
            throw new InvalidMeterException("groupBy", groupBy.keySet(), "more than " + MAX_GROUP_BY + " dimensions");
        }
        for (var e : groupBy.entrySet()) {
            String g = e.getKey();
            if (g == null || g.length() > MAX_NAME || !GROUP_NAME.matcher(g).matches()) {
                throw new InvalidMeterException("groupBy", g, "a dimension name must match [A-Za-z_][A-Za-z0-9_]* "
                        + "and be at most " + MAX_NAME + " characters");
            }
            JsonPath.parse("groupBy." + g, e.getValue());
        }
        LinkedHashMap<String, List<String>> f = new LinkedHashMap<>();
        if (filters != null) {
            if (filters.size() > MAX_FILTERS) {
                throw new InvalidMeterException("filters", filters.keySet(), "more than " + MAX_FILTERS + " filters");
            }
            for (var e : filters.entrySet()) {
                JsonPath.parse("filters", e.getKey());
                f.put(e.getKey(), checkedValues("filters[" + e.getKey() + "]", e.getValue()));
            }
        }
        filters = Collections.unmodifiableMap(f);
    }

    /** A meter without dimensions or filters. */
    public MeterDefinition(String name, String eventType, Aggregation aggregation, String valueProperty) {
        this(name, eventType, aggregation, valueProperty, Map.of(), Map.of());
    }

    /** Checks a filter's allowed values: at least one, none null, none too long; keeps their order, drops repeats. */
    static List<String> checkedValues(String field, List<String> values) {
        if (values == null || values.isEmpty()) {
            throw new InvalidMeterException(field, values, "needs at least one allowed value");
        }
        if (values.size() > MAX_FILTER_VALUES) {
            throw new InvalidMeterException(field, values.size() + " values", "more than " + MAX_FILTER_VALUES
                    + " allowed values");
        }
        LinkedHashSet<String> out = new LinkedHashSet<>();
        for (String v : values) {
            if (v == null) {
                throw new InvalidMeterException(field, null, "an allowed value is null; filter values are text");
            }
            if (v.length() > MAX_FILTER_VALUE) {
                throw new InvalidMeterException(field, v, "an allowed value is longer than " + MAX_FILTER_VALUE
                        + " characters");
            }
            out.add(v);
        }
        return List.copyOf(out);
    }

    JsonPath valuePath() {
        return valueProperty == null ? null : JsonPath.parse("valueProperty", valueProperty);
    }
}
