package dev.tally.worker.http;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import dev.tally.store.EventCodec;
import dev.tally.store.EventRejectedException;
import dev.tally.store.RejectReason;
import dev.tally.store.Rejection;
import dev.tally.store.ValidEvent;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Reads the body of {@code POST /v1/events} into events, one entry per submitted event in order.
 * Accepted forms:
 *
 * <ul>
 *   <li>one event object, or a JSON array of them ({@code application/json});</li>
 *   <li>newline-delimited JSON, one event per line ({@code application/x-ndjson}; blank lines
 *       are skipped);</li>
 *   <li>CloudEvents 1.0 in structured mode, one ({@code application/cloudevents+json}) or a batch
 *       ({@code application/cloudevents-batch+json}); an object with a {@code specversion}
 *       attribute is read as a CloudEvent in any of the forms above.</li>
 * </ul>
 *
 * Each event is parsed once, with {@link EventCodec}'s strict parser and field reader, and checked
 * with every clock-free rule of {@link dev.tally.store.EventRules} as it is read, so what comes out
 * is a {@link ValidEvent} in canonical form (the time bounds are the backend's, as they depend on
 * its clock). A CloudEvent maps {@code id, source, type, subject, time, data} with the same field
 * reader as a native event and the {@code tenant} extension attribute to the tenant. A problem
 * with one event becomes a {@link Rejection} at its index; only a body that is not JSON at all
 * (or not in the declared form) is refused as a whole.
 *
 * <p>Thread-safe: stateless.
 */
public final class EventBodyParser {
    /** Media types read as newline-delimited JSON. */
    static final Set<String> NDJSON_TYPES = Set.of("application/x-ndjson", "application/ndjson", "application/jsonl",
            "application/x-jsonlines", "application/jsonlines");
    static final String CLOUDEVENT = "application/cloudevents+json";
    static final String CLOUDEVENT_BATCH = "application/cloudevents-batch+json";
    private static final Pattern EXTENSION_NAME = Pattern.compile("[a-z0-9]{1,20}");
    private static final byte[] SPECVERSION = "\"specversion\"".getBytes(StandardCharsets.US_ASCII);

    /** Lenient tokenizer for the envelope: per-event strictness is EventCodec's job. */
    private static final JsonFactory ENVELOPE = JsonFactory.builder()
            .enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS)
            .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(EventCodec.MAX_NESTING_DEPTH + 2)
                    .maxNumberLength(1_000).build())
            .build();

    /**
     * The events of a body: {@code events.get(i)} is the i-th submitted event, or null when it was
     * refused with the rejection of the same index.
     */
    public record Parsed(List<ValidEvent> events, List<Rejection> rejections) {
        public int size() {
            return events.size();
        }
    }

    private EventBodyParser() {
    }

    /**
     * Parses {@code body} sent with {@code contentType} (may be null).
     *
     * @throws ApiException 400 when the body is empty or not JSON in the declared form, 415 for a
     *                      media type that is not JSON
     */
    public static Parsed parse(byte[] body, String contentType) {
        String type = mediaType(contentType);
        int start = skipWhitespace(body, 0);
        if (start == body.length) {
            throw ApiException.badRequest("empty_body", "the request body is empty; send one event, a JSON array of "
                    + "events, or one event per line");
        }
        Builder out = new Builder();
        if (NDJSON_TYPES.contains(type)) {
            ndjson(body, out);
        } else if (type.equals(CLOUDEVENT)) {
            if (body[start] != '{') {
                throw ApiException.badRequest("invalid_json", "a " + CLOUDEVENT + " body must be one JSON object");
            }
            int end = endOfValue(body, start);
            if (skipWhitespace(body, end) != body.length) {
                throw ApiException.badRequest("invalid_json", "trailing content after the CloudEvent object; send "
                        + "several as " + CLOUDEVENT_BATCH);
            }
            out.element(body, start, end - start, true);
        } else if (type.equals(CLOUDEVENT_BATCH)) {
            if (body[start] != '[') {
                throw ApiException.badRequest("invalid_json", "a " + CLOUDEVENT_BATCH + " body must be a JSON array");
            }
            array(body, out, true);
        } else if (type.isEmpty() || type.equals("application/json") || type.equals("text/plain")
                || type.endsWith("+json") || type.equals("application/x-www-form-urlencoded")) {
            // (x-www-form-urlencoded is what curl -d sends by default; the body is read as JSON all the same)
            if (body[start] == '[') {
                array(body, out, false);
            } else if (body[start] == '{') {
                int end = endOfValue(body, start);
                if (skipWhitespace(body, end) == body.length) {
                    out.element(body, start, end - start, false);
                } else {
                    ndjson(body, out); // several objects one after another: read them as lines
                }
            } else {
                throw ApiException.badRequest("invalid_json", "the body must be a JSON object, a JSON array of "
                        + "objects, or one JSON object per line; it starts with " + describeByte(body[start]));
            }
        } else {
            throw new ApiException(415, "unsupported_media_type", "Content-Type " + contentType + " is not "
                    + "supported; use application/json, application/x-ndjson, " + CLOUDEVENT + " or "
                    + CLOUDEVENT_BATCH);
        }
        return new Parsed(out.events, out.rejections);
    }

    private static void array(byte[] body, Builder out, boolean cloudEvents) {
        try (JsonParser p = ENVELOPE.createParser(body)) {
            if (p.nextToken() != JsonToken.START_ARRAY) {
                throw ApiException.badRequest("invalid_json", "expected a JSON array");
            }
            JsonToken t;
            while ((t = p.nextToken()) != JsonToken.END_ARRAY) {
                if (t == null) {
                    throw ApiException.badRequest("invalid_json", "the JSON array is not closed");
                }
                int from = (int) p.currentTokenLocation().getByteOffset();
                if (t == JsonToken.START_OBJECT || t == JsonToken.START_ARRAY) {
                    p.skipChildren();
                }
                int to = (int) p.currentLocation().getByteOffset();
                if (t != JsonToken.START_OBJECT) {
                    out.reject(null, RejectReason.INVALID_JSON, "array element " + out.events.size()
                            + " must be a JSON object, got " + t.asString());
                    continue;
                }
                out.element(body, from, to - from, cloudEvents);
            }
            if (p.nextToken() != null) {
                throw ApiException.badRequest("invalid_json", "trailing content after the JSON array");
            }
        } catch (JsonProcessingException e) {
            throw invalidJson(e, 0);
        } catch (IOException e) {
            throw ApiException.badRequest("invalid_json", "the body cannot be read: " + e.getMessage());
        }
    }

    private static void ndjson(byte[] body, Builder out) {
        int i = 0;
        while (i < body.length) {
            int nl = i;
            while (nl < body.length && body[nl] != '\n') {
                nl++;
            }
            int end = nl;
            if (end > i && body[end - 1] == '\r') {
                end--;
            }
            int start = skipWhitespace(body, i);
            if (start < end) {
                out.element(body, start, end - start, false);
            }
            i = nl + 1;
        }
    }

    /** The byte after the JSON value starting at {@code start}. */
    private static int endOfValue(byte[] body, int start) {
        try (JsonParser p = ENVELOPE.createParser(body, start, body.length - start)) {
            JsonToken t = p.nextToken();
            if (t == JsonToken.START_OBJECT || t == JsonToken.START_ARRAY) {
                p.skipChildren();
            }
            return start + (int) p.currentLocation().getByteOffset();
        } catch (JsonProcessingException e) {
            throw invalidJson(e, start);
        } catch (IOException e) {
            throw ApiException.badRequest("invalid_json", "the body cannot be read: " + e.getMessage());
        }
    }

    /** Collects events and rejections in submission order. */
    private static final class Builder {
        final List<ValidEvent> events = new ArrayList<>();
        final List<Rejection> rejections = new ArrayList<>();

        void element(byte[] b, int off, int len, boolean cloudEvent) {
            try {
                if (cloudEvent || contains(b, off, len, SPECVERSION) && hasTopLevelField(b, off, len, "specversion")) {
                    events.add(cloudEvent(b, off, len));
                } else {
                    events.add(EventCodec.parseValid(b, off, len));
                }
            } catch (EventRejectedException e) {
                reject(bestEffortId(b, off, len), e.reason(), e.getMessage());
            }
        }

        void reject(String id, RejectReason reason, String message) {
            rejections.add(new Rejection(events.size(), id, reason, message));
            events.add(null);
        }
    }

    /**
     * Maps one CloudEvents 1.0 structured-mode object to a validated event. The context attributes
     * that are event fields are read by the same field reader as a native event's; the
     * CloudEvents-only ones (specversion, datacontenttype, dataschema, extensions) are checked here.
     */
    static ValidEvent cloudEvent(byte[] b, int off, int len) throws EventRejectedException {
        EventCodec.checkUtf8(b, off, len);
        String specversion = null;
        EventCodec.Fields fields = new EventCodec.Fields(b, off);
        try (JsonParser p = EventCodec.strictParser(b, off, len)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw new EventRejectedException(RejectReason.INVALID_JSON, "a CloudEvent must be a JSON object");
            }
            JsonToken t;
            while ((t = p.nextToken()) == JsonToken.FIELD_NAME) {
                String name = p.currentName();
                JsonToken v = p.nextToken();
                switch (name) {
                    case "specversion" -> specversion = string(p, v, name);
                    case "datacontenttype" -> {
                        String ct = string(p, v, name);
                        if (ct != null && !isJson(mediaType(ct))) {
                            throw new EventRejectedException(RejectReason.INVALID_FIELD, "CloudEvent datacontenttype '"
                                    + ct + "' is not supported: data must be a JSON object");
                        }
                    }
                    case "dataschema" -> string(p, v, name);
                    case "data_base64" -> throw new EventRejectedException(RejectReason.INVALID_FIELD,
                            "CloudEvent data_base64 is not supported: send data as a JSON object");
                    default -> {
                        if (fields.read(p, name, v)) {
                            continue; // tenant (an extension attribute), id, type, subject, source, time, data
                        }
                        if (!EXTENSION_NAME.matcher(name).matches()) {
                            throw new EventRejectedException(RejectReason.INVALID_FIELD, "CloudEvent attribute name '"
                                    + name + "' is not valid (lower-case letters and digits, at most 20)");
                        }
                        p.skipChildren(); // other extension attributes are metadata Tally does not keep
                    }
                }
            }
            if (t != JsonToken.END_OBJECT) {
                throw new EventRejectedException(RejectReason.INVALID_JSON, "the CloudEvent object is not closed");
            }
        } catch (IOException e) {
            throw EventCodec.rejection(e);
        }
        if (specversion == null) {
            throw new EventRejectedException(RejectReason.MISSING_FIELD, "CloudEvent attribute 'specversion' is missing");
        }
        if (!specversion.equals("1.0")) {
            throw new EventRejectedException(RejectReason.INVALID_FIELD, "CloudEvent specversion '" + specversion
                    + "' is not supported; use 1.0");
        }
        if (fields.source() == null || fields.source().isEmpty()) {
            throw new EventRejectedException(RejectReason.MISSING_FIELD, "CloudEvent attribute 'source' is missing");
        }
        return fields.valid();
    }

    private static String string(JsonParser p, JsonToken v, String name) throws IOException, EventRejectedException {
        if (v == JsonToken.VALUE_NULL) {
            return null;
        }
        if (v != JsonToken.VALUE_STRING) {
            p.skipChildren();
            throw new EventRejectedException(RejectReason.INVALID_FIELD, "CloudEvent attribute '" + name
                    + "' must be a string, got " + v.asString());
        }
        return p.getText();
    }

    /** Whether the object in {@code b[off, off+len)} has a top-level field {@code name}. */
    static boolean hasTopLevelField(byte[] b, int off, int len, String name) {
        try (JsonParser p = ENVELOPE.createParser(b, off, len)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                return false;
            }
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                if (p.currentName().equals(name)) {
                    return true;
                }
                p.nextToken();
                p.skipChildren();
            }
            return false;
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    /** The top-level {@code "id"} string of a refused element, if it can be found; for error reports. */
    static String bestEffortId(byte[] b, int off, int len) {
        try (JsonParser p = ENVELOPE.createParser(b, off, len)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                return null;
            }
            JsonToken t;
            while ((t = p.nextToken()) == JsonToken.FIELD_NAME) {
                String name = p.currentName();
                JsonToken v = p.nextToken();
                if (name.equals("id") && v == JsonToken.VALUE_STRING) {
                    String id = p.getText();
                    return id.length() > 256 ? id.substring(0, 256) : id;
                }
                p.skipChildren();
            }
            return null;
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    /** The lower-case media type without parameters; empty when absent. */
    static String mediaType(String contentType) {
        if (contentType == null) {
            return "";
        }
        int semi = contentType.indexOf(';');
        return (semi < 0 ? contentType : contentType.substring(0, semi)).trim().toLowerCase(Locale.ROOT);
    }

    private static boolean isJson(String type) {
        return type.equals("application/json") || type.endsWith("+json") || type.equals("text/json");
    }

    private static int skipWhitespace(byte[] b, int i) {
        while (i < b.length && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t')) {
            i++;
        }
        return i;
    }

    private static boolean contains(byte[] b, int off, int len, byte[] needle) {
        outer:
        for (int i = off; i <= off + len - needle.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (b[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return true;
        }
        return false;
    }

    private static String describeByte(byte c) {
        return c >= 0x20 && c < 0x7f ? "'" + (char) c + "'" : String.format(Locale.ROOT, "byte 0x%02x", c & 0xff);
    }

    /**
     * A 400 for a body that is not JSON. Some parser errors (a read constraint such as the nesting
     * limit) carry no location, so the byte offset is added only when known.
     */
    private static ApiException invalidJson(JsonProcessingException e, int start) {
        String where = e.getLocation() == null || e.getLocation().getByteOffset() < 0 ? ""
                : " (at byte " + (start + e.getLocation().getByteOffset()) + ")";
        String what = e.getOriginalMessage();
        if (e instanceof com.fasterxml.jackson.core.exc.StreamConstraintsException && what != null
                && what.contains("nesting depth")) {
            what = "it is nested deeper than " + EventCodec.MAX_NESTING_DEPTH + " levels";
        }
        return ApiException.badRequest("invalid_json", "the body is not valid JSON: " + what + where);
    }
}
