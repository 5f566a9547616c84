package dev.tally.store;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.core.exc.StreamConstraintsException;
import com.fasterxml.jackson.core.io.JsonEOFException;
import java.io.CharConversionException;
import java.io.IOException;
import java.io.StringWriter;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.time.temporal.ChronoUnit;

/**
 * Reads and writes the JSON line form of a {@link UsageEvent}, the form used by the journal,
 * spool files, dead letters and the HTTP API:
 *
 * <pre>{"tenant":"acme","id":"req-1","type":"llm.request","subject":"key-7","source":"api",
 *  "time":"2026-11-20T10:00:00.123456Z","data":{"input_tokens":812,"model":"gpt-4o"}}</pre>
 *
 * <p>Parsing is strict, because a billing store must not guess: unknown top-level fields,
 * duplicate keys, NaN/Infinity, numbers that do not fit DECIMAL(38,9) exactly, nesting deeper
 * than {@value #MAX_NESTING_DEPTH} and malformed UTF-8 are each refused with their own
 * {@link RejectReason}. {@code data} is re-written compactly with every number kept as its
 * exact text.
 *
 * <p>Thread-safe: holds no mutable state.
 */
public final class EventCodec {

    /** Deepest nesting of objects and arrays accepted in a line (the event object counts as 1). */
    public static final int MAX_NESTING_DEPTH = 32;
    /** Largest total scale-and-precision a stored number may need: DECIMAL(38,9). */
    public static final int DECIMAL_PRECISION = 38;
    public static final int DECIMAL_SCALE = 9;

    private static final JsonFactory FACTORY = JsonFactory.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            // Let NaN/Infinity through the tokenizer so they get their own reason code below.
            .enable(com.fasterxml.jackson.core.json.JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS)
            .streamReadConstraints(StreamReadConstraints.builder()
                    .maxNestingDepth(MAX_NESTING_DEPTH)
                    .maxNumberLength(100)
                    .build())
            .build();

    /**
     * For records this library wrote itself from validated events: no duplicate-key tracking
     * (the writer cannot produce one), the same limits.
     */
    private static final JsonFactory TRUSTED = JsonFactory.builder()
            .streamReadConstraints(StreamReadConstraints.builder()
                    .maxNestingDepth(MAX_NESTING_DEPTH)
                    .maxNumberLength(100)
                    .build())
            .build();

    private static final DateTimeFormatter TIME_FORMAT =
            DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HH:mm:ss.SSSSSS'Z'").withZone(ZoneOffset.UTC);

    private EventCodec() {
    }

    /** Formats an instant as stored and written: UTC with exactly six fraction digits. */
    public static String formatTime(Instant time) {
        return TIME_FORMAT.format(time.truncatedTo(ChronoUnit.MICROS));
    }

    /**
     * Parses an ISO-8601 timestamp with an offset or {@code Z}.
     *
     * @throws EventRejectedException with {@link RejectReason#INVALID_FIELD} naming the value
     */
    public static Instant parseTime(String text) throws EventRejectedException {
        Instant fast = parseCanonicalTime(text);
        if (fast != null) {
            return fast;
        }
        try {
            return OffsetDateTime.parse(text, DateTimeFormatter.ISO_OFFSET_DATE_TIME)
                    .toInstant().truncatedTo(ChronoUnit.MICROS);
        } catch (DateTimeParseException e) {
            throw new EventRejectedException(RejectReason.INVALID_FIELD,
                    "field 'time' = " + quote(text) + " is not an ISO-8601 timestamp with an offset "
                            + "(e.g. 2026-11-20T10:00:00.123456Z)");
        }
    }

    /**
     * The form this codec writes, {@code 2026-11-20T10:00:00.123456Z}, parsed without the general
     * formatter (it runs for every imported line); null for any other form, which then takes the
     * general path. Field ranges are still checked by {@link java.time.LocalDateTime#of}.
     */
    private static Instant parseCanonicalTime(String t) {
        if (t.length() != 27 || t.charAt(4) != '-' || t.charAt(7) != '-' || t.charAt(10) != 'T' || t.charAt(13) != ':'
                || t.charAt(16) != ':' || t.charAt(19) != '.' || t.charAt(26) != 'Z') {
            return null;
        }
        int year = digits(t, 0, 4);
        int month = digits(t, 5, 7);
        int day = digits(t, 8, 10);
        int hour = digits(t, 11, 13);
        int minute = digits(t, 14, 16);
        int second = digits(t, 17, 19);
        int micros = digits(t, 20, 26);
        if ((year | month | day | hour | minute | second | micros) < 0) {
            return null;
        }
        try {
            return java.time.LocalDateTime.of(year, month, day, hour, minute, second, micros * 1_000)
                    .toInstant(ZoneOffset.UTC);
        } catch (java.time.DateTimeException e) {
            return null; // out of range: the general path reports it
        }
    }

    private static int digits(String s, int from, int to) {
        int n = 0;
        for (int i = from; i < to; i++) {
            char c = s.charAt(i);
            if (c < '0' || c > '9') {
                return -1;
            }
            n = n * 10 + (c - '0');
        }
        return n;
    }

    /** Writes one event as a single JSON line, without the trailing newline. */
    public static String toJson(UsageEvent e) {
        StringWriter out = new StringWriter(128 + (e.data() == null ? 0 : e.data().length()));
        try (JsonGenerator g = FACTORY.createGenerator(out)) {
            g.writeStartObject();
            g.writeStringField("tenant", e.tenant());
            g.writeStringField("id", e.id());
            g.writeStringField("type", e.type());
            g.writeStringField("subject", e.subject());
            if (e.source() != null) {
                g.writeStringField("source", e.source());
            }
            g.writeStringField("time", e.time() == null ? null : formatTime(e.time()));
            g.writeFieldName("data");
            g.writeRawValue(e.data() == null ? "{}" : e.data());
            g.writeEndObject();
        } catch (IOException impossible) {
            throw new IllegalStateException(impossible);
        }
        return out.toString();
    }

    /** Parses one JSON line given as UTF-8 bytes (malformed UTF-8 is refused, not replaced). */
    public static UsageEvent parse(byte[] utf8, int offset, int length) throws EventRejectedException {
        int bad = firstInvalidUtf8(utf8, offset, length);
        if (bad >= 0) {
            // Checked here because the JSON parser decodes some invalid forms (overlong encodings such
            // as C0 AF for '/', encoded surrogates) instead of refusing them.
            throw new EventRejectedException(RejectReason.MALFORMED_UTF8, "the line is not valid UTF-8: "
                    + "invalid or overlong byte sequence at byte " + (bad - offset) + " (0x"
                    + String.format("%02X", utf8[bad] & 0xFF) + ")");
        }
        try (JsonParser p = FACTORY.createParser(utf8, offset, length)) {
            return parseEvent(p);
        } catch (IOException e) {
            throw translate(e);
        }
    }

    /**
     * Parses one JSON line given as UTF-8 bytes and checks it with every clock-free rule of
     * {@link EventRules}, in one pass over the bytes: {@code data} is validated while it is read
     * and kept as its own bytes when it is already compact (re-written only when it holds white
     * space or a number in exponent form). The time bounds are left to the caller's clock.
     */
    public static ValidEvent parseValid(byte[] utf8, int offset, int length) throws EventRejectedException {
        checkUtf8(utf8, offset, length);
        try (JsonParser p = FACTORY.createParser(utf8, offset, length)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw new EventRejectedException(RejectReason.INVALID_JSON, "a line must be one JSON object");
            }
            Fields f = new Fields(utf8, offset);
            JsonToken t;
            while ((t = p.nextToken()) == JsonToken.FIELD_NAME) {
                String name = p.currentName();
                if (!f.read(p, name, p.nextToken())) {
                    throw new EventRejectedException(RejectReason.INVALID_FIELD,
                            "unknown field " + quote(name) + " (allowed: tenant, id, type, subject, source, time, data)");
                }
            }
            endOfEvent(p, t);
            return f.valid();
        } catch (IOException e) {
            throw translate(e);
        }
    }

    /**
     * Reads a record this library wrote itself from a {@link ValidEvent} (a journal record whose
     * checksum marks it as canonical): no rule is checked again and {@code data} is kept as its
     * bytes. Never use it on bytes from anywhere else; {@link #parseValid} is for those.
     *
     * @throws EventRejectedException if the bytes are not in the shape this codec writes (which a
     *                                verified checksum rules out, short of a bug)
     */
    public static ValidEvent parseCanonical(byte[] utf8, int offset, int length) throws EventRejectedException {
        try (JsonParser p = TRUSTED.createParser(utf8, offset, length)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw new EventRejectedException(RejectReason.INVALID_JSON, "a line must be one JSON object");
            }
            String tenant = null;
            String id = null;
            String type = null;
            String subject = null;
            String source = null;
            Instant time = null;
            String data = null;
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String name = p.currentName();
                JsonToken v = p.nextToken();
                switch (name) {
                    case "tenant" -> tenant = p.getText();
                    case "id" -> id = p.getText();
                    case "type" -> type = p.getText();
                    case "subject" -> subject = p.getText();
                    case "source" -> source = p.getText();
                    case "time" -> time = parseTime(p.getText());
                    case "data" -> {
                        if (v != JsonToken.START_OBJECT) {
                            throw new EventRejectedException(RejectReason.DATA_NOT_OBJECT, "field 'data' is not an object");
                        }
                        int from = (int) p.currentTokenLocation().getByteOffset();
                        p.skipChildren();
                        int to = (int) p.currentLocation().getByteOffset();
                        data = new String(utf8, offset + from, to - from, StandardCharsets.UTF_8);
                    }
                    default -> throw new EventRejectedException(RejectReason.INVALID_FIELD, "unknown field " + quote(name));
                }
            }
            if (tenant == null || id == null || type == null || subject == null || time == null || data == null) {
                throw new EventRejectedException(RejectReason.MISSING_FIELD, "a canonical record lacks a field");
            }
            return new ValidEvent(new UsageEvent(tenant, id, type, subject, source, time, data));
        } catch (IOException e) {
            throw translate(e);
        }
    }

    /** Writes a validated event as a single JSON line in UTF-8, without the trailing newline. */
    public static byte[] toJsonBytes(ValidEvent v) {
        return toJson(v.event()).getBytes(StandardCharsets.UTF_8);
    }

    /**
     * A parser with the codec's strict settings (duplicate keys, nesting, number length) over
     * {@code utf8[offset, offset+length)}, for a reader of another envelope (CloudEvents) that
     * hands the event's own fields to {@link Fields}. Check the bytes with {@link #checkUtf8} first.
     */
    public static JsonParser strictParser(byte[] utf8, int offset, int length) throws IOException {
        return FACTORY.createParser(utf8, offset, length);
    }

    /** Refuses malformed UTF-8 (overlong forms, encoded surrogates), which the JSON parser lets through. */
    public static void checkUtf8(byte[] utf8, int offset, int length) throws EventRejectedException {
        int bad = firstInvalidUtf8(utf8, offset, length);
        if (bad >= 0) {
            throw new EventRejectedException(RejectReason.MALFORMED_UTF8, "the line is not valid UTF-8: "
                    + "invalid or overlong byte sequence at byte " + (bad - offset) + " (0x"
                    + String.format("%02X", utf8[bad] & 0xFF) + ")");
        }
    }

    /** The refusal for a parser failure of {@link #strictParser} (nesting, duplicates, bad JSON). */
    public static EventRejectedException rejection(IOException e) {
        return translate(e);
    }

    private static void endOfEvent(JsonParser p, JsonToken t) throws IOException, EventRejectedException {
        if (t != JsonToken.END_OBJECT) {
            throw new EventRejectedException(RejectReason.INVALID_JSON, "the event object is not closed");
        }
        if (p.nextToken() != null) {
            throw new EventRejectedException(RejectReason.INVALID_JSON,
                    "trailing content after the event object (one event per line)");
        }
    }

    /**
     * Reads the event fields (tenant, id, type, subject, source, time, data) from a parser, one at
     * a time, for the native line form and CloudEvents alike, and checks the finished event with
     * {@link EventRules}. {@code data} is validated as it is read and kept as its source bytes when
     * already compact.
     *
     * <p>Not thread-safe: one per event being read.
     */
    public static final class Fields {
        private final byte[] src;
        private final int srcOffset;
        private String tenant;
        private String id;
        private String type;
        private String subject;
        private String source;
        private Instant time;
        private String data;

        /**
         * @param src       the bytes the parser reads
         * @param srcOffset where the parser's input starts in {@code src} (its byte offsets count from there)
         */
        public Fields(byte[] src, int srcOffset) {
            this.src = src;
            this.srcOffset = srcOffset;
        }

        /**
         * Reads field {@code name}, whose value token {@code v} the parser is on. Returns false,
         * reading nothing, when {@code name} is not an event field.
         */
        public boolean read(JsonParser p, String name, JsonToken v) throws IOException, EventRejectedException {
            switch (name) {
                case "tenant" -> tenant = stringField(p, v, name);
                case "id" -> id = stringField(p, v, name);
                case "type" -> type = stringField(p, v, name);
                case "subject" -> subject = stringField(p, v, name);
                case "source" -> source = stringField(p, v, name);
                case "time" -> {
                    String s = stringField(p, v, name);
                    time = s == null ? null : parseTime(s);
                }
                case "data" -> data = readData(p, v);
                default -> {
                    return false;
                }
            }
            return true;
        }

        /** The source read so far, null when none (a CloudEvent must have one). */
        public String source() {
            return source;
        }

        /** Checks the fields read with every clock-free rule. */
        public ValidEvent valid() throws EventRejectedException {
            if (data == null) {
                throw new EventRejectedException(RejectReason.MISSING_FIELD, "field 'data' is missing");
            }
            return EventRules.checkFields(new UsageEvent(tenant, id, type, subject, source, time, data), data);
        }

        private String readData(JsonParser p, JsonToken first) throws IOException, EventRejectedException {
            if (first == null || first == JsonToken.VALUE_NULL) {
                return null;
            }
            if (first != JsonToken.START_OBJECT) {
                p.skipChildren();
                throw new EventRejectedException(RejectReason.DATA_NOT_OBJECT,
                        "field 'data' must be a JSON object, got " + describe(first));
            }
            int from = (int) p.currentTokenLocation().getByteOffset();
            boolean rewrite = false;
            int depth = 1;
            while (depth > 0) {
                JsonToken t = p.nextToken();
                if (t == null) {
                    throw new EventRejectedException(RejectReason.INVALID_JSON, "field 'data' is not closed");
                }
                switch (t) {
                    case START_OBJECT, START_ARRAY -> depth++;
                    case END_OBJECT, END_ARRAY -> depth--;
                    case VALUE_NUMBER_INT, VALUE_NUMBER_FLOAT -> {
                        String text = checkedNumber(p);
                        rewrite |= text != p.getText() && !text.equals(p.getText());
                    }
                    default -> {
                    }
                }
            }
            int to = (int) p.currentLocation().getByteOffset();
            int at = srcOffset + from;
            int len = to - from;
            if (!rewrite && !hasWhitespace(src, at, len)) {
                return new String(src, at, len, StandardCharsets.UTF_8);
            }
            // Rare: white space between tokens or an exponent; write the compact form.
            try (JsonParser q = FACTORY.createParser(src, at, len)) {
                return copyData(q, q.nextToken());
            }
        }
    }

    private static boolean hasWhitespace(byte[] b, int off, int len) {
        for (int i = off; i < off + len; i++) {
            byte c = b[i];
            if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
                return true;
            }
        }
        return false;
    }

    /** Parses one JSON line. */
    public static UsageEvent parse(String line) throws EventRejectedException {
        byte[] b = line.getBytes(StandardCharsets.UTF_8);
        return parse(b, 0, b.length);
    }

    /**
     * Validates a {@code data} value given as JSON text and returns it in compact form with
     * numbers kept as their exact text.
     */
    public static String canonicalData(String json) throws EventRejectedException {
        if (json == null) {
            throw new EventRejectedException(RejectReason.MISSING_FIELD, "field 'data' is missing");
        }
        try {
            // Fast path: machine-written JSON is usually already compact; validate it without
            // re-writing, and keep the text when it has no white space and no exponents.
            if (!hasWhitespace(json) && !validateOnly(json)) {
                return json;
            }
            try (JsonParser p = FACTORY.createParser(json)) {
                JsonToken t = p.nextToken();
                String data = copyData(p, t);
                if (p.nextToken() != null) {
                    throw new EventRejectedException(RejectReason.INVALID_JSON,
                            "field 'data' has trailing content after the object");
                }
                return data;
            }
        } catch (IOException e) {
            throw translate(e);
        }
    }

    private static boolean hasWhitespace(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
                return true;
            }
        }
        return false;
    }

    /**
     * Validates {@code data} without writing it. Returns whether a number needs re-writing (an
     * exponent), in which case the caller takes the copying path.
     */
    private static boolean validateOnly(String json) throws IOException, EventRejectedException {
        boolean rewrite = false;
        try (JsonParser p = FACTORY.createParser(json)) {
            JsonToken t = p.nextToken();
            if (t != JsonToken.START_OBJECT) {
                throw new EventRejectedException(t == null || t == JsonToken.VALUE_NULL ? RejectReason.MISSING_FIELD
                        : RejectReason.DATA_NOT_OBJECT, "field 'data' must be a JSON object, got "
                        + (t == null ? "nothing" : describe(t)));
            }
            int depth = 1;
            while (depth > 0) {
                t = p.nextToken();
                if (t == null) {
                    throw new EventRejectedException(RejectReason.INVALID_JSON, "field 'data' is not closed");
                }
                switch (t) {
                    case START_OBJECT, START_ARRAY -> depth++;
                    case END_OBJECT, END_ARRAY -> depth--;
                    case VALUE_NUMBER_INT, VALUE_NUMBER_FLOAT -> {
                        String text = checkedNumber(p);
                        rewrite |= text != p.getText() && !text.equals(p.getText());
                    }
                    default -> {
                    }
                }
            }
            if (p.nextToken() != null) {
                throw new EventRejectedException(RejectReason.INVALID_JSON,
                        "field 'data' has trailing content after the object");
            }
        }
        return rewrite;
    }

    private static UsageEvent parseEvent(JsonParser p) throws IOException, EventRejectedException {
        if (p.nextToken() != JsonToken.START_OBJECT) {
            throw new EventRejectedException(RejectReason.INVALID_JSON, "a line must be one JSON object");
        }
        String tenant = null;
        String id = null;
        String type = null;
        String subject = null;
        String source = null;
        Instant time = null;
        String data = null;
        JsonToken t;
        while ((t = p.nextToken()) == JsonToken.FIELD_NAME) {
            String name = p.currentName();
            JsonToken v = p.nextToken();
            switch (name) {
                case "tenant" -> tenant = stringField(p, v, name);
                case "id" -> id = stringField(p, v, name);
                case "type" -> type = stringField(p, v, name);
                case "subject" -> subject = stringField(p, v, name);
                case "source" -> source = stringField(p, v, name);
                case "time" -> {
                    String s = stringField(p, v, name);
                    time = s == null ? null : parseTime(s);
                }
                case "data" -> data = copyData(p, v);
                default -> throw new EventRejectedException(RejectReason.INVALID_FIELD,
                        "unknown field " + quote(name) + " (allowed: tenant, id, type, subject, source, time, data)");
            }
        }
        if (t != JsonToken.END_OBJECT) {
            throw new EventRejectedException(RejectReason.INVALID_JSON, "the event object is not closed");
        }
        if (p.nextToken() != null) {
            throw new EventRejectedException(RejectReason.INVALID_JSON,
                    "trailing content after the event object (one event per line)");
        }
        return new UsageEvent(tenant, id, type, subject, source, time, data);
    }

    private static String stringField(JsonParser p, JsonToken v, String name)
            throws IOException, EventRejectedException {
        if (v == JsonToken.VALUE_NULL) {
            return null;
        }
        if (v != JsonToken.VALUE_STRING) {
            throw new EventRejectedException(RejectReason.INVALID_FIELD,
                    "field '" + name + "' must be a string, got " + describe(v));
        }
        return p.getText();
    }

    private static String copyData(JsonParser p, JsonToken first) throws IOException, EventRejectedException {
        if (first == null || first == JsonToken.VALUE_NULL) {
            throw new EventRejectedException(RejectReason.MISSING_FIELD, "field 'data' is missing");
        }
        if (first != JsonToken.START_OBJECT) {
            throw new EventRejectedException(RejectReason.DATA_NOT_OBJECT,
                    "field 'data' must be a JSON object, got " + describe(first));
        }
        StringWriter out = new StringWriter(64);
        try (JsonGenerator g = FACTORY.createGenerator(out)) {
            int depth = 0;
            JsonToken t = first;
            do {
                switch (t) {
                    case START_OBJECT -> {
                        g.writeStartObject();
                        depth++;
                    }
                    case END_OBJECT -> {
                        g.writeEndObject();
                        depth--;
                    }
                    case START_ARRAY -> {
                        g.writeStartArray();
                        depth++;
                    }
                    case END_ARRAY -> {
                        g.writeEndArray();
                        depth--;
                    }
                    case FIELD_NAME -> g.writeFieldName(p.currentName());
                    case VALUE_STRING -> g.writeString(p.getText());
                    case VALUE_NUMBER_INT, VALUE_NUMBER_FLOAT -> g.writeNumber(checkedNumber(p));
                    case VALUE_TRUE -> g.writeBoolean(true);
                    case VALUE_FALSE -> g.writeBoolean(false);
                    case VALUE_NULL -> g.writeNull();
                    default -> throw new EventRejectedException(RejectReason.INVALID_JSON,
                            "unexpected token " + t + " in field 'data'");
                }
                if (depth == 0) {
                    break;
                }
                t = p.nextToken();
                if (t == null) {
                    throw new EventRejectedException(RejectReason.INVALID_JSON, "field 'data' is not closed");
                }
            } while (true);
        }
        return out.toString();
    }

    /** Returns the number's exact text, or refuses it when DECIMAL(38,9) cannot hold it. */
    private static String checkedNumber(JsonParser p) throws IOException, EventRejectedException {
        String text = p.getText();
        char first = text.charAt(0);
        if (first == 'N' || first == 'I' || (first == '-' || first == '+') && text.length() > 1
                && (text.charAt(1) == 'I' || text.charAt(1) == 'N')) {
            throw new EventRejectedException(RejectReason.NON_FINITE_NUMBER,
                    "field 'data." + path(p) + "' = " + text + " is not a finite number");
        }
        if (fitsPlain(text)) {
            return text;
        }
        BigDecimal d;
        try {
            d = new BigDecimal(text);
        } catch (NumberFormatException e) {
            throw new EventRejectedException(RejectReason.INVALID_JSON,
                    "field 'data." + path(p) + "' = " + text + " is not a number");
        }
        BigDecimal s = d.stripTrailingZeros();
        int scale = Math.max(0, s.scale());
        int integerDigits = Math.max(0, s.precision() - s.scale());
        if (scale > DECIMAL_SCALE || integerDigits > DECIMAL_PRECISION - DECIMAL_SCALE) {
            throw new EventRejectedException(RejectReason.NUMBER_OUT_OF_RANGE,
                    "field 'data." + path(p) + "' = " + abbreviate(text, 40) + " cannot be stored exactly as DECIMAL("
                            + DECIMAL_PRECISION + "," + DECIMAL_SCALE + "): at most "
                            + (DECIMAL_PRECISION - DECIMAL_SCALE) + " integer digits and " + DECIMAL_SCALE
                            + " decimal places");
        }
        // Exponents are written plain, because DuckDB's DECIMAL cast refuses them.
        return s.scale() < 0 ? s.setScale(0).toPlainString() : s.toPlainString();
    }

    /**
     * Whether a JSON number in plain notation certainly fits DECIMAL(38,9): no exponent, at most
     * 29 integer digits and 9 fraction digits. Anything else is checked exactly with BigDecimal.
     */
    private static boolean fitsPlain(String text) {
        int i = text.charAt(0) == '-' ? 1 : 0;
        int integer = 0;
        int fraction = -1;
        for (; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c == '.') {
                fraction = 0;
            } else if (c >= '0' && c <= '9') {
                if (fraction >= 0) {
                    fraction++;
                } else {
                    integer++;
                }
            } else {
                return false;
            }
        }
        return integer <= DECIMAL_PRECISION - DECIMAL_SCALE && fraction <= DECIMAL_SCALE;
    }

    private static String path(JsonParser p) {
        try {
            String name = p.currentName();
            return name == null ? "[]" : name;
        } catch (IOException e) {
            return "?";
        }
    }

    /**
     * The index of the first byte that starts an invalid UTF-8 sequence (RFC 3629: no overlong
     * forms, no surrogates, nothing above U+10FFFF, no truncated sequence), or -1 when all is valid.
     */
    static int firstInvalidUtf8(byte[] b, int offset, int length) {
        int end = offset + length;
        int i = offset;
        while (i < end) {
            int c = b[i] & 0xFF;
            if (c < 0x80) {
                i++;
                continue;
            }
            int n;
            int min;
            if (c >= 0xC2 && c <= 0xDF) {
                n = 1;
                min = 0x80;
            } else if (c >= 0xE0 && c <= 0xEF) {
                n = 2;
                min = 0x800;
            } else if (c >= 0xF0 && c <= 0xF4) {
                n = 3;
                min = 0x10000;
            } else {
                return i; // a continuation byte, C0/C1 (always overlong) or F5..FF
            }
            if (i + n >= end) {
                return i; // truncated
            }
            int cp = c & (0x3F >> n);
            for (int k = 1; k <= n; k++) {
                int d = b[i + k] & 0xFF;
                if ((d & 0xC0) != 0x80) {
                    return i;
                }
                cp = (cp << 6) | (d & 0x3F);
            }
            if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
                return i;
            }
            i += n + 1;
        }
        return -1;
    }

    private static EventRejectedException translate(IOException e) {
        String msg = e instanceof com.fasterxml.jackson.core.JsonProcessingException jpe && jpe.getOriginalMessage() != null
                ? jpe.getOriginalMessage()
                : String.valueOf(e.getMessage());
        if (e instanceof StreamConstraintsException) {
            if (msg.contains("nesting depth")) {
                return new EventRejectedException(RejectReason.NESTING_TOO_DEEP,
                        "JSON nested deeper than " + MAX_NESTING_DEPTH + " levels");
            }
            if (msg.contains("Number value length") || msg.contains("number")) {
                return new EventRejectedException(RejectReason.NUMBER_OUT_OF_RANGE,
                        "a number has too many digits to be stored exactly");
            }
        }
        if (e instanceof CharConversionException || msg.contains("Invalid UTF-8")) {
            return new EventRejectedException(RejectReason.MALFORMED_UTF8, "the line is not valid UTF-8: " + firstLine(msg));
        }
        if (msg.startsWith("Duplicate field")) {
            return new EventRejectedException(RejectReason.DUPLICATE_KEY, firstLine(msg));
        }
        if (e instanceof JsonEOFException) {
            return new EventRejectedException(RejectReason.INVALID_JSON, "the JSON ends early: " + firstLine(msg));
        }
        return new EventRejectedException(RejectReason.INVALID_JSON, "not valid JSON: " + firstLine(msg));
    }

    private static final java.util.regex.Pattern LOCATION =
            java.util.regex.Pattern.compile("\\[Source: [^\\]]*?line: \\d+, column: (\\d+)\\]");

    /** The first line of a parser message, with its internal location text reduced to a column. */
    private static String firstLine(String msg) {
        int nl = msg.indexOf('\n');
        String line = nl < 0 ? msg : msg.substring(0, nl);
        return LOCATION.matcher(line).replaceAll("column $1");
    }

    private static String describe(JsonToken t) {
        return switch (t) {
            case START_OBJECT -> "an object";
            case START_ARRAY -> "an array";
            case VALUE_STRING -> "a string";
            case VALUE_NUMBER_INT, VALUE_NUMBER_FLOAT -> "a number";
            case VALUE_TRUE, VALUE_FALSE -> "a boolean";
            case VALUE_NULL -> "null";
            default -> String.valueOf(t);
        };
    }

    /** A value quoted and shortened for an error message. */
    public static String quote(String s) {
        return s == null ? "null" : "'" + abbreviate(s, 80) + "'";
    }

    /** A value shortened to {@code max} characters for an error message. */
    public static String abbreviate(String s, int max) {
        return s.length() <= max ? s : s.substring(0, max) + "…(" + s.length() + " chars)";
    }
}
