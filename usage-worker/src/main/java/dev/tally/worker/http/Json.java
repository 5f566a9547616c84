package dev.tally.worker.http;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.UncheckedIOException;
import java.util.LinkedHashMap;
import java.util.Map;

/** JSON for API responses: maps and lists written with Jackson, keys in insertion order. */
public final class Json {
    static final ObjectMapper MAPPER = new ObjectMapper().disable(SerializationFeature.FAIL_ON_EMPTY_BEANS);

    private Json() {
    }

    /** A JSON object under construction, keys in insertion order. */
    public static Map<String, Object> object() {
        return new LinkedHashMap<>();
    }

    public static byte[] bytes(Object value) {
        try {
            return MAPPER.writeValueAsBytes(value);
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static String text(Object value) {
        try {
            return MAPPER.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** {@code {"error": code, "message": message}} plus {@code extra}. */
    public static Map<String, Object> error(String code, String message, Map<String, Object> extra) {
        Map<String, Object> m = object();
        m.put("error", code);
        m.put("message", message);
        m.putAll(extra);
        return m;
    }
}
