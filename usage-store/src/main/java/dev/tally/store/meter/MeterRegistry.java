package dev.tally.store.meter;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentSkipListMap;

/**
 * The meters a {@link MeterService} answers for, by name. Definitions come from the API
 * ({@link #register}) or from a JSON file ({@link #load}):
 *
 * <pre>{@code
 * {"meters": [
 *   {"name": "input_tokens", "eventType": "llm.request", "aggregation": "SUM",
 *    "valueProperty": "$.input_tokens", "groupBy": {"model": "$.model"},
 *    "filters": {"$.region": ["eu", "us"]}}
 * ]}
 * }</pre>
 *
 * <p>Loading is strict: unknown fields, duplicate keys, wrong types and duplicate names are
 * refused with the field's position (e.g. {@code meters[2].valueProperty}), and a file is
 * loaded completely or not at all.
 *
 * <p>Thread-safe.
 */
public final class MeterRegistry {
    private static final ObjectMapper JSON = JsonMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .build();
    private static final Set<String> METER_FIELDS =
            Set.of("name", "eventType", "aggregation", "valueProperty", "groupBy", "filters", "description");

    private final ConcurrentSkipListMap<String, MeterDefinition> meters = new ConcurrentSkipListMap<>();

    /** Adds a meter; refuses a name already registered. */
    public void register(MeterDefinition meter) {
        java.util.Objects.requireNonNull(meter, "meter");
        if (meters.putIfAbsent(meter.name(), meter) != null) {
            throw new InvalidMeterException("name", meter.name(), "a meter with this name is already registered; "
                    + "use replace() to change it");
        }
    }

    /** Adds or replaces a meter; returns the one it replaced, if any. */
    public Optional<MeterDefinition> replace(MeterDefinition meter) {
        java.util.Objects.requireNonNull(meter, "meter");
        return Optional.ofNullable(meters.put(meter.name(), meter));
    }

    /** Removes a meter; returns whether it was there. */
    public boolean remove(String name) {
        return name != null && meters.remove(name) != null;
    }

    public Optional<MeterDefinition> get(String name) {
        return name == null ? Optional.empty() : Optional.ofNullable(meters.get(name));
    }

    /** Every meter, by name. */
    public List<MeterDefinition> all() {
        return List.copyOf(meters.values());
    }

    /**
     * Reads the meters of a JSON file and registers them all, or none when any is invalid or
     * already registered. Returns how many were added.
     */
    public int load(Path file) {
        String text;
        try {
            text = Files.readString(file);
        } catch (IOException e) {
            throw new InvalidMeterException("file", file.toString(), "cannot be read: " + e.getMessage());
        }
        return loadJson(text, file.toString());
    }

    /** Like {@link #load(Path)}, from JSON text; {@code origin} names the source in messages. */
    public synchronized int loadJson(String json, String origin) {
        List<MeterDefinition> parsed = parse(json, origin);
        for (MeterDefinition m : parsed) {
            if (meters.containsKey(m.name())) {
                throw new InvalidMeterException(origin + ": name", m.name(), "a meter with this name is already "
                        + "registered; nothing from this file was loaded");
            }
        }
        parsed.forEach(m -> meters.put(m.name(), m));
        return parsed.size();
    }

    /** Parses a meter file without registering anything. */
    public static List<MeterDefinition> parse(String json, String origin) {
        JsonNode root;
        try {
            root = JSON.readTree(json);
        } catch (JsonProcessingException e) {
            String msg = e.getOriginalMessage();
            var loc = e.getLocation();
            throw new InvalidMeterException(origin, loc == null ? "?" : "line " + loc.getLineNr() + ", column "
                    + loc.getColumnNr(), "not valid JSON: " + msg);
        }
        if (root == null || !root.isObject()) {
            throw new InvalidMeterException(origin, describe(root), "must be a JSON object with a \"meters\" array");
        }
        for (Iterator<String> it = root.fieldNames(); it.hasNext();) {
            String f = it.next();
            if (!f.equals("meters")) {
                throw new InvalidMeterException(origin + ": " + f, describe(root.get(f)), "unknown field "
                        + "(allowed: meters)");
            }
        }
        JsonNode list = root.get("meters");
        if (list == null || !list.isArray()) {
            throw new InvalidMeterException(origin + ": meters", describe(list), "must be an array of meters");
        }
        List<MeterDefinition> out = new ArrayList<>();
        Map<String, Integer> seen = new LinkedHashMap<>();
        for (int i = 0; i < list.size(); i++) {
            String at = origin + ": meters[" + i + "].";
            MeterDefinition m;
            try {
                m = meter(list.get(i), at);
            } catch (InvalidMeterException e) {
                throw e.field().startsWith(origin) ? e : e.within(at);
            }
            Integer prev = seen.putIfAbsent(m.name(), i);
            if (prev != null) {
                throw new InvalidMeterException(at + "name", m.name(), "repeats the name of meters[" + prev + "]");
            }
            out.add(m);
        }
        return out;
    }

    private static MeterDefinition meter(JsonNode n, String at) {
        if (n == null || !n.isObject()) {
            throw new InvalidMeterException(at.substring(0, at.length() - 1), describe(n), "must be an object");
        }
        for (Iterator<String> it = n.fieldNames(); it.hasNext();) {
            String f = it.next();
            if (!METER_FIELDS.contains(f)) {
                throw new InvalidMeterException(at + f, describe(n.get(f)), "unknown field (allowed: "
                        + new java.util.TreeSet<>(METER_FIELDS) + ")");
            }
        }
        String name = text(n, "name", at);
        String type = text(n, "eventType", at);
        String aggText = text(n, "aggregation", at);
        Aggregation agg = null;
        if (aggText != null) {
            try {
                agg = Aggregation.valueOf(aggText.toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new InvalidMeterException(at + "aggregation", aggText, "unknown aggregation; one of "
                        + List.of(Aggregation.values()));
            }
        }
        String value = text(n, "valueProperty", at);
        text(n, "description", at);
        Map<String, String> groupBy = new LinkedHashMap<>();
        JsonNode g = n.get("groupBy");
        if (g != null && !g.isNull()) {
            if (!g.isObject()) {
                throw new InvalidMeterException(at + "groupBy", describe(g), "must be an object of name to JSON path");
            }
            for (var it = g.fields(); it.hasNext();) {
                var e = it.next();
                if (!e.getValue().isTextual()) {
                    throw new InvalidMeterException(at + "groupBy." + e.getKey(), describe(e.getValue()),
                            "must be a JSON path string");
                }
                groupBy.put(e.getKey(), e.getValue().textValue());
            }
        }
        Map<String, List<String>> filters = new LinkedHashMap<>();
        JsonNode f = n.get("filters");
        if (f != null && !f.isNull()) {
            if (!f.isObject()) {
                throw new InvalidMeterException(at + "filters", describe(f), "must be an object of JSON path to "
                        + "allowed values");
            }
            for (var it = f.fields(); it.hasNext();) {
                var e = it.next();
                JsonNode vals = e.getValue();
                List<String> allowed = new ArrayList<>();
                if (vals.isTextual()) {
                    allowed.add(vals.textValue());
                } else if (vals.isArray()) {
                    for (JsonNode v : vals) {
                        if (!v.isTextual()) {
                            throw new InvalidMeterException(at + "filters[" + e.getKey() + "]", describe(v),
                                    "allowed values must be strings (numbers too: write \"3\")");
                        }
                        allowed.add(v.textValue());
                    }
                } else {
                    throw new InvalidMeterException(at + "filters[" + e.getKey() + "]", describe(vals),
                            "must be a string or an array of strings");
                }
                filters.put(e.getKey(), allowed);
            }
        }
        return new MeterDefinition(name, type, agg, value, groupBy, filters);
    }

    private static String text(JsonNode n, String field, String at) {
        JsonNode v = n.get(field);
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isTextual()) {
            throw new InvalidMeterException(at + field, describe(v), "must be a string");
        }
        return v.textValue();
    }

    private static String describe(JsonNode n) {
        if (n == null) {
            return null;
        }
        return n.isTextual() ? n.textValue() : n.getNodeType().name().toLowerCase(Locale.ROOT) + " " + n;
    }
}
