package dev.tally.worker.http;

import dev.tally.store.SegmentInfo;
import java.util.List;
import java.util.ArrayList;

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

    /** The segment list as JSON: {@code {"segments": [{state, seq, path, min_time, max_time, rows, bytes}]}}. */
    static Map<String, Object> segments(List<SegmentInfo> segments) {
        List<Map<String, Object>> list = new ArrayList<>();
        for (SegmentInfo s : segments) {
            Map<String, Object> m = Json.object();
            m.put("state", s.state().name());
            m.put("seq", s.seq());
            m.put("path", s.path());
            m.put("min_time", s.minTime() == null ? null : s.minTime().toString());
            m.put("max_time", s.maxTime() == null ? null : s.maxTime().toString());
            m.put("rows", s.rows());
            m.put("bytes", s.bytes());
            list.add(m);
        }
        Map<String, Object> out = Json.object();
        out.put("segments", list);
        return out;
    }
}
