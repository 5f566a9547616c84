package dev.tally.store.dlq;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tally.store.RejectReason;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.Locale;

/**
 * The JSON line form of a {@link DeadLetter}, one entry per line:
 *
 * <pre>{"source":"spool:0/orders.jsonl","offset":4096,"reason":"invalid_json","message":"…",
 *  "attempts":1,"first_seen":"2026-11-20T10:00:00Z","last_attempt":"2026-11-20T10:00:00Z",
 *  "length":57,"truncated":false,"text":"{\"tenant\":…"}</pre>
 *
 * <p>{@code "base64"} stands in place of {@code "text"} when the original is not valid UTF-8.
 * Unknown fields are ignored when reading, so a newer writer's entries stay readable.
 *
 * <p>Thread-safe: holds no mutable state.
 */
final class DeadLetterCodec {
    static final String F_SOURCE = "source";
    static final String F_OFFSET = "offset";
    static final String F_REASON = "reason";
    static final String F_MESSAGE = "message";
    static final String F_ATTEMPTS = "attempts";
    static final String F_FIRST_SEEN = "first_seen";
    static final String F_LAST_ATTEMPT = "last_attempt";
    static final String F_LENGTH = "length";
    static final String F_TRUNCATED = "truncated";
    static final String F_TEXT = "text";
    static final String F_BASE64 = "base64";

    private static final JsonFactory FACTORY = new JsonFactory();
    private static final ObjectMapper MAPPER = new ObjectMapper(FACTORY);

    private DeadLetterCodec() {
    }

    /** The entry as one JSON line, with its trailing {@code '\n'}, in UTF-8. */
    static byte[] encodeLine(DeadLetter e) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(256 + (int) Math.min(e.length(), 1 << 20));
        try (JsonGenerator g = FACTORY.createGenerator(out)) {
            g.writeStartObject();
            g.writeStringField(F_SOURCE, e.source());
            g.writeNumberField(F_OFFSET, e.offset());
            g.writeStringField(F_REASON, e.reason().code());
            g.writeStringField(F_MESSAGE, e.message());
            g.writeNumberField(F_ATTEMPTS, e.attempts());
            g.writeStringField(F_FIRST_SEEN, e.firstSeen().toString());
            g.writeStringField(F_LAST_ATTEMPT, e.lastAttempt().toString());
            g.writeNumberField(F_LENGTH, e.length());
            g.writeBooleanField(F_TRUNCATED, e.truncated());
            if (e.text() != null) {
                g.writeStringField(F_TEXT, e.text());
            } else {
                g.writeStringField(F_BASE64, e.base64());
            }
            g.writeEndObject();
        } catch (IOException impossible) {
            throw new UncheckedIOException(impossible);
        }
        out.write('\n');
        return out.toByteArray();
    }

    /**
     * Reads one entry line (without its {@code '\n'}).
     *
     * @throws IllegalArgumentException naming what is wrong when the line is not an entry
     */
    static DeadLetter decodeLine(byte[] line, int off, int len) {
        JsonNode n;
        try {
            n = MAPPER.readTree(line, off, len);
        } catch (IOException e) {
            throw new IllegalArgumentException("not valid JSON: " + firstLine(String.valueOf(e.getMessage())));
        }
        if (n == null || !n.isObject()) {
            throw new IllegalArgumentException("not a JSON object");
        }
        try {
            String reasonCode = text(n, F_REASON);
            RejectReason reason;
            try {
                reason = RejectReason.valueOf(reasonCode.toUpperCase(Locale.ROOT));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("unknown reason '" + reasonCode + "'");
            }
            JsonNode textNode = n.get(F_TEXT);
            JsonNode b64Node = n.get(F_BASE64);
            return new DeadLetter(
                    text(n, F_SOURCE),
                    number(n, F_OFFSET),
                    reason,
                    n.hasNonNull(F_MESSAGE) ? n.get(F_MESSAGE).asText() : "",
                    textNode == null || textNode.isNull() ? null : textNode.asText(),
                    b64Node == null || b64Node.isNull() ? null : b64Node.asText(),
                    number(n, F_LENGTH),
                    n.path(F_TRUNCATED).asBoolean(false),
                    (int) number(n, F_ATTEMPTS),
                    Instant.parse(text(n, F_FIRST_SEEN)),
                    Instant.parse(text(n, F_LAST_ATTEMPT)));
        } catch (DateTimeParseException | NullPointerException e) {
            throw new IllegalArgumentException("bad field: " + e.getMessage());
        }
    }

    private static String text(JsonNode n, String field) {
        JsonNode v = n.get(field);
        if (v == null || !v.isTextual()) {
            throw new IllegalArgumentException("field '" + field + "' is missing or not a string");
        }
        return v.asText();
    }

    private static long number(JsonNode n, String field) {
        JsonNode v = n.get(field);
        if (v == null || !v.canConvertToLong() || !v.isIntegralNumber()) {
            throw new IllegalArgumentException("field '" + field + "' is missing or not an integer");
        }
        return v.asLong();
    }

    /** Keeps the message of a parse error short. */
    private static String firstLine(String s) {
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}
