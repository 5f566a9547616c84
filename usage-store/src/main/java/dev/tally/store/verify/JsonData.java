package dev.tally.store.verify;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.math.BigDecimal;
import java.util.Comparator;
import java.util.Map;

/**
 * The two operations verify needs on an event's {@code data} object: equality as parsed JSON with
 * numbers compared as exact decimals (so {@code 1.50} equals {@code 1.5}, key order does not
 * matter, and no number ever goes through a {@code double}), and the exact sums of its top-level
 * numeric properties.
 *
 * <p>Thread-safe: stateless.
 */
final class JsonData {
    private static final JsonFactory FACTORY = new JsonFactory();
    private static final ObjectMapper MAPPER = new ObjectMapper(FACTORY)
            .enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
            .enable(DeserializationFeature.USE_BIG_INTEGER_FOR_INTS)
            .enable(DeserializationFeature.FAIL_ON_READING_DUP_TREE_KEY);

    /** Numbers by exact value; everything else by {@link JsonNode#equals}. */
    private static final Comparator<JsonNode> NUMBERS_EXACT = (a, b) -> {
        if (a.isNumber() && b.isNumber()) {
            return a.decimalValue().compareTo(b.decimalValue());
        }
        return a.equals(b) ? 0 : 1;
    };

    private JsonData() {
    }

    /**
     * Whether two JSON texts are the same value. Identical texts are equal without parsing; a text
     * that does not parse equals nothing but itself.
     */
    static boolean equal(String a, String b) {
        if (a == null || b == null) {
            return a == b;
        }
        if (a.equals(b)) {
            return true;
        }
        try {
            JsonNode x = MAPPER.readTree(a);
            JsonNode y = MAPPER.readTree(b);
            return x != null && y != null && x.equals(NUMBERS_EXACT, y);
        } catch (IOException e) {
            return false;
        }
    }

    /**
     * Adds every top-level numeric property of the JSON object {@code data} to {@code sums}, by
     * property name, exactly (from the number's text). Nested values are skipped. Returns false,
     * adding nothing, when {@code data} is not a JSON object.
     */
    static boolean addTopLevelNumbers(String data, Map<String, BigDecimal> sums) {
        if (data == null) {
            return false;
        }
        try (JsonParser p = FACTORY.createParser(data)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                return false;
            }
            // Parse everything first, so a damaged text adds nothing at all.
            java.util.List<Map.Entry<String, BigDecimal>> found = new java.util.ArrayList<>();
            JsonToken t;
            while ((t = p.nextToken()) == JsonToken.FIELD_NAME) {
                String name = p.currentName();
                JsonToken v = p.nextToken();
                if (v == JsonToken.VALUE_NUMBER_INT || v == JsonToken.VALUE_NUMBER_FLOAT) {
                    found.add(Map.entry(name, new BigDecimal(p.getText())));
                } else if (v == JsonToken.START_OBJECT || v == JsonToken.START_ARRAY) {
                    p.skipChildren();
                }
            }
            if (t != JsonToken.END_OBJECT) {
                return false;
            }
            for (Map.Entry<String, BigDecimal> e : found) {
                sums.merge(e.getKey(), e.getValue(), BigDecimal::add);
            }
            return true;
        } catch (IOException | NumberFormatException e) {
            return false;
        }
    }
}
