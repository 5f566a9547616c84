package dev.tally.store.meter;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tally.store.engine.Engine;
import java.util.ArrayList;
import java.util.List;

/**
 * A validated JSON path into an event's {@code data} object: {@code $} followed by one to
 * {@value #MAX_DEPTH} steps, each either {@code .name} (letters, digits, underscore; not starting
 * with a digit) or {@code ["any key"]} (any characters except {@code "}, {@code \} and control
 * characters). Array indexes, wildcards and filters are not accepted, and the path never reaches
 * SQL as text: it is turned into a JSON pointer and a {@code json_transform} structure, both
 * passed as quoted literals.
 *
 * <p>Immutable and thread-safe.
 */
final class JsonPath {
    static final int MAX_DEPTH = 8;
    static final int MAX_KEY = 128;
    static final int MAX_LENGTH = 512;

    /** JSON value types DuckDB's {@code json_type} reports for numbers. */
    static final String NUMERIC_TYPES = "('BIGINT', 'UBIGINT', 'DOUBLE', 'HUGEINT')";

    private static final ObjectMapper JSON = new ObjectMapper();

    private final String text;
    private final List<String> keys;

    private JsonPath(String text, List<String> keys) {
        this.text = text;
        this.keys = List.copyOf(keys);
    }

    /** Parses {@code text}; a refusal names {@code field}, the text and what is wrong with it. */
    static JsonPath parse(String field, String text) {
        if (text == null || text.isEmpty()) {
            throw new InvalidMeterException(field, text, "a JSON path like $.input_tokens is required");
        }
        if (text.length() > MAX_LENGTH) {
            throw new InvalidMeterException(field, text, "longer than " + MAX_LENGTH + " characters");
        }
        if (text.charAt(0) != '$') {
            throw new InvalidMeterException(field, text, "must start with '$', e.g. $.input_tokens or $[\"key name\"]");
        }
        List<String> keys = new ArrayList<>();
        int i = 1;
        while (i < text.length()) {
            char c = text.charAt(i);
            if (c == '.') {
                int start = ++i;
                while (i < text.length() && isIdent(text.charAt(i), i == start)) {
                    i++;
                }
                if (i == start) {
                    throw new InvalidMeterException(field, text, "expected a name after '.' at position " + (start - 1)
                            + " (letters, digits and '_', not starting with a digit; use [\"...\"] for other keys)");
                }
                keys.add(text.substring(start, i));
            } else if (c == '[') {
                if (i + 1 >= text.length() || text.charAt(i + 1) != '"') {
                    throw new InvalidMeterException(field, text, "expected '[\"' at position " + i
                            + "; only quoted keys are allowed in brackets (no array indexes or wildcards)");
                }
                int start = i + 2;
                int end = text.indexOf('"', start);
                if (end < 0 || end + 1 >= text.length() || text.charAt(end + 1) != ']') {
                    throw new InvalidMeterException(field, text, "the bracketed key opened at position " + i
                            + " is not closed with '\"]'");
                }
                String key = text.substring(start, end);
                if (key.isEmpty()) {
                    throw new InvalidMeterException(field, text, "empty key at position " + i);
                }
                for (int k = 0; k < key.length(); k++) {
                    char kc = key.charAt(k);
                    if (kc == '\\' || Character.isISOControl(kc)) {
                        throw new InvalidMeterException(field, text, "the key at position " + i
                                + " contains a backslash or control character");
                    }
                }
                keys.add(key);
                i = end + 2;
            } else {
                throw new InvalidMeterException(field, text, "unexpected '" + c + "' at position " + i
                        + "; steps are .name or [\"key\"]");
            }
            if (keys.get(keys.size() - 1).length() > MAX_KEY) {
                throw new InvalidMeterException(field, text, "a key is longer than " + MAX_KEY + " characters");
            }
        }
        if (keys.isEmpty()) {
            throw new InvalidMeterException(field, text, "the path names no key; use e.g. $.input_tokens");
        }
        if (keys.size() > MAX_DEPTH) {
            throw new InvalidMeterException(field, text, "deeper than " + MAX_DEPTH + " keys");
        }
        return new JsonPath(text, keys);
    }

    private static boolean isIdent(char c, boolean first) {
        return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || !first && c >= '0' && c <= '9';
    }

    String text() {
        return text;
    }

    List<String> keys() {
        return keys;
    }

    /** Whether the path names a top-level key of {@code data} (the only ones hourly rollups keep). */
    boolean topLevel() {
        return keys.size() == 1;
    }

    /** The RFC 6901 JSON pointer, e.g. {@code /usage/input_tokens}. */
    String pointer() {
        StringBuilder sb = new StringBuilder();
        for (String k : keys) {
            sb.append('/').append(k.replace("~", "~0").replace("/", "~1"));
        }
        return sb.toString();
    }

    /** SQL: DuckDB's JSON type name of the value at this path in {@code column}, NULL when absent. */
    String typeSql(String column) {
        return "json_type(" + column + ", " + Engine.literal(pointer()) + ")";
    }

    /**
     * SQL: the number at this path as an exact DECIMAL(38,9), NULL when absent or not a JSON
     * number (a string "12" is not a number).
     */
    String decimalSql(String column) {
        ObjectNode spec = JSON.createObjectNode();
        ObjectNode at = spec;
        for (int i = 0; i < keys.size() - 1; i++) {
            at = at.putObject(keys.get(i));
        }
        at.put(keys.get(keys.size() - 1), "DECIMAL(38,9)");
        StringBuilder access = new StringBuilder();
        for (String k : keys) {
            access.append('[').append(Engine.literal(k)).append(']');
        }
        return "CASE WHEN " + typeSql(column) + " IN " + NUMERIC_TYPES + " THEN json_transform(" + column + ", "
                + Engine.literal(spec.toString()) + ")" + access + " END";
    }

    /**
     * SQL: the value at this path as text, NULL when absent or JSON null: a string's content, a
     * number as its exact plain decimal without trailing zeros ({@code 2}, {@code 1.5}; so
     * {@code 2.0} and {@code 2} are the same text), {@code true}/{@code false}, or an object's or
     * array's compact JSON text.
     */
    String textSql(String column) {
        String ptr = Engine.literal(pointer());
        return "CASE WHEN " + typeSql(column) + " IN " + NUMERIC_TYPES + " THEN rtrim(rtrim(CAST("
                + decimalSql(column) + " AS VARCHAR), '0'), '.') WHEN " + typeSql(column) + " = 'VARCHAR' THEN "
                + "json_extract_string(" + column + ", " + ptr + ") WHEN " + typeSql(column) + " = 'NULL' THEN NULL "
                + "ELSE json_extract(" + column + ", " + ptr + ")::VARCHAR END";
    }

    /** SQL subscript reaching this path inside a structure built by {@code json_transform}: {@code ['a']['b']}. */
    String subscript() {
        StringBuilder access = new StringBuilder();
        for (String k : keys) {
            access.append('[').append(Engine.literal(k)).append(']');
        }
        return access.toString();
    }

    /** Whether this path is a strict prefix of {@code other} (so both cannot share one transform structure). */
    boolean isPrefixOf(JsonPath other) {
        return other.keys.size() > keys.size() && other.keys.subList(0, keys.size()).equals(keys);
    }

    /**
     * SQL over {@code j}, the JSON text of this path taken from a {@code json_transform(data, …"JSON"…)}
     * structure (NULL when absent or JSON null): the value as text by the rule of {@link #textSql}.
     * Numbers are read again exactly from {@code column}, the JSON structure's copy being a double.
     */
    String textFromJsonSql(String j, String column) {
        return "CASE WHEN json_type(" + j + ") IN " + NUMERIC_TYPES + " THEN rtrim(rtrim(CAST(" + exactSql(column)
                + " AS VARCHAR), '0'), '.') WHEN json_type(" + j + ") = 'VARCHAR' THEN json_extract_string(" + j
                + ", '$') ELSE CAST(" + j + " AS VARCHAR) END";
    }

    /** Like {@link #decimalSql} with the type taken from {@code j} (see {@link #textFromJsonSql}). */
    String decimalFromJsonSql(String j, String column) {
        return "CASE WHEN json_type(" + j + ") IN " + NUMERIC_TYPES + " THEN " + exactSql(column) + " END";
    }

    /** SQL: {@code json_transform} of {@code column} to DECIMAL(38,9) at this path, without a type check. */
    private String exactSql(String column) {
        ObjectNode spec = JSON.createObjectNode();
        ObjectNode at = spec;
        for (int i = 0; i < keys.size() - 1; i++) {
            at = at.putObject(keys.get(i));
        }
        at.put(keys.get(keys.size() - 1), "DECIMAL(38,9)");
        return "json_transform(" + column + ", " + Engine.literal(spec.toString()) + ")" + subscript();
    }

    /** A {@code json_transform} structure reading every path as JSON text, or null when one path is a prefix of another. */
    static String jsonSpec(List<JsonPath> paths) {
        for (JsonPath a : paths) {
            for (JsonPath b : paths) {
                if (a.isPrefixOf(b)) {
                    return null;
                }
            }
        }
        ObjectNode spec = JSON.createObjectNode();
        for (JsonPath p : paths) {
            ObjectNode at = spec;
            for (int i = 0; i < p.keys.size() - 1; i++) {
                at = at.has(p.keys.get(i)) ? (ObjectNode) at.get(p.keys.get(i)) : at.putObject(p.keys.get(i));
            }
            at.put(p.keys.get(p.keys.size() - 1), "JSON");
        }
        return spec.toString();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof JsonPath p && p.keys.equals(keys);
    }

    @Override
    public int hashCode() {
        return keys.hashCode();
    }

    @Override
    public String toString() {
        return text;
    }
}
