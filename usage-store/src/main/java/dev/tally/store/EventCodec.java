package dev.tally.store;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamReadFeature;
import java.io.IOException;
import java.io.StringWriter;
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

    static final JsonFactory FACTORY = JsonFactory.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            // Let NaN/Infinity through the tokenizer so they get their own reason code below.
            .enable(com.fasterxml.jackson.core.json.JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS)
            .streamReadConstraints(StreamReadConstraints.builder()
                    .maxNestingDepth(MAX_NESTING_DEPTH)
                    .maxNumberLength(100)
                    .build())
            .build();

    /**
     * {@link #FACTORY} without the parser's own duplicate-name check, for the validation of a
     * {@code data} object that checks names itself ({@code EventData.validateOnly}): the parser's
     * check allocates a hash set per object.
     */
    static final JsonFactory DATA_FACTORY = FACTORY.rebuild().disable(StreamReadFeature.STRICT_DUPLICATE_DETECTION).build();

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
        long sec = time.getEpochSecond();
        if (sec < YEAR_0_SECOND || sec >= YEAR_10000_SECOND) {
            return TIME_FORMAT.format(time.truncatedTo(ChronoUnit.MICROS)); // a sign or a fifth digit
        }
        // Written by hand: it runs for every journaled event, and the general formatter showed in
        // the journal producers' profiles.
        long day = Math.floorDiv(sec, 86_400L);
        int secondOfDay = (int) Math.floorMod(sec, 86_400L);
        java.time.LocalDate d = java.time.LocalDate.ofEpochDay(day);
        byte[] c = new byte[27];
        digits(c, 0, d.getYear(), 4);
        c[4] = '-';
        digits(c, 5, d.getMonthValue(), 2);
        c[7] = '-';
        digits(c, 8, d.getDayOfMonth(), 2);
        c[10] = 'T';
        digits(c, 11, secondOfDay / 3600, 2);
        c[13] = ':';
        digits(c, 14, secondOfDay / 60 % 60, 2);
        c[16] = ':';
        digits(c, 17, secondOfDay % 60, 2);
        c[19] = '.';
        digits(c, 20, time.getNano() / 1000, 6);
        c[26] = 'Z';
        return new String(c, StandardCharsets.US_ASCII);
    }

    /** 0000-01-01T00:00:00Z and 10000-01-01T00:00:00Z: the years the pattern writes as four digits. */
    private static final long YEAR_0_SECOND = -62_167_219_200L;
    private static final long YEAR_10000_SECOND = 253_402_300_800L;

    private static void digits(byte[] c, int at, int value, int width) {
        for (int i = at + width - 1; i >= at; i--) {
            c[i] = (byte) ('0' + value % 10);
            value /= 10;
        }
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
    static Instant parseCanonicalTime(String t) {
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
        if (e.time() != null && plain(e.tenant()) && plain(e.id()) && plain(e.type()) && plain(e.subject())
                && (e.source() == null || plain(e.source()))) {
            // Nothing to escape: written directly, the same text as the generator's below.
            String data = e.data() == null ? "{}" : e.data();
            StringBuilder b = new StringBuilder(96 + e.tenant().length() + e.id().length() + e.type().length()
                    + e.subject().length() + data.length());
            b.append("{\"tenant\":\"").append(e.tenant()).append("\",\"id\":\"").append(e.id())
                    .append("\",\"type\":\"").append(e.type()).append("\",\"subject\":\"").append(e.subject());
            if (e.source() != null) {
                b.append("\",\"source\":\"").append(e.source());
            }
            return b.append("\",\"time\":\"").append(formatTime(e.time())).append("\",\"data\":").append(data)
                    .append('}').toString();
        }
        return toJsonByGenerator(e);
    }

    /** {@link #toJson} through the JSON generator alone; package-private to compare the two in tests. */
    static String toJsonByGenerator(UsageEvent e) {
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

    /** Whether the generator writes {@code s} as it is: not null, nothing to escape, no surrogate. */
    private static boolean plain(String s) {
        if (s == null) {
            return false;
        }
        for (int i = 0, n = s.length(); i < n; i++) {
            char c = s.charAt(i);
            if (c < 0x20 || c == '"' || c == '\\' || Character.isSurrogate(c)) {
                return false;
            }
        }
        return true;
    }

    /** Parses one JSON line given as UTF-8 bytes (malformed UTF-8 is refused, not replaced). */
    public static UsageEvent parse(byte[] utf8, int offset, int length) throws EventRejectedException {
        // Checked here because the JSON parser decodes some invalid forms (overlong encodings such
        // as C0 AF for '/', encoded surrogates) instead of refusing them.
        JsonRejections.checkUtf8(utf8, offset, length);
        try (JsonParser p = FACTORY.createParser(utf8, offset, length)) {
            Fields f = new Fields(utf8, offset, DataRule.REWRITE);
            readObject(p, f);
            return f.event();
        } catch (IOException e) {
            throw JsonRejections.translate(e);
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
            Fields f = new Fields(utf8, offset, DataRule.KEEP_COMPACT);
            readObject(p, f);
            return f.valid();
        } catch (IOException e) {
            throw JsonRejections.translate(e);
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
        ValidEvent fast = CanonicalLayout.read(utf8, offset, length);
        return fast != null ? fast : parseCanonicalByParser(utf8, offset, length);
    }

    /** {@link #parseCanonical} through the JSON parser alone; package-private to compare the two in tests. */
    static ValidEvent parseCanonicalByParser(byte[] utf8, int offset, int length) throws EventRejectedException {
        try (JsonParser p = TRUSTED.createParser(utf8, offset, length)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw new EventRejectedException(RejectReason.INVALID_JSON, "a line must be one JSON object");
            }
            Fields f = new Fields(utf8, offset, DataRule.TRUSTED);
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String name = p.currentName();
                if (!f.read(p, name, p.nextToken())) {
                    throw new EventRejectedException(RejectReason.INVALID_FIELD, "unknown field " + quote(name));
                }
            }
            return f.canonical();
        } catch (IOException e) {
            throw JsonRejections.translate(e);
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
        JsonRejections.checkUtf8(utf8, offset, length);
    }

    /** The refusal for a parser failure of {@link #strictParser} (nesting, duplicates, bad JSON). */
    public static EventRejectedException rejection(IOException e) {
        return JsonRejections.translate(e);
    }

    /**
     * Reads one native event object, field by field, into {@code f}, refusing any other field (the
     * native line's rule; CloudEvents and canonical records have their own), then requires the end
     * of the input.
     */
    private static void readObject(JsonParser p, Fields f) throws IOException, EventRejectedException {
        if (p.nextToken() != JsonToken.START_OBJECT) {
            throw new EventRejectedException(RejectReason.INVALID_JSON, "a line must be one JSON object");
        }
        JsonToken t;
        while ((t = p.nextToken()) == JsonToken.FIELD_NAME) {
            String name = p.currentName();
            if (!f.read(p, name, p.nextToken())) {
                throw new EventRejectedException(RejectReason.INVALID_FIELD,
                        "unknown field " + quote(name) + " (allowed: tenant, id, type, subject, source, time, data)");
            }
        }
        endOfEvent(p, t);
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
     * How {@link Fields} reads {@code data}: the one difference between the callers of the one field
     * reader, kept per caller as it always was.
     */
    enum DataRule {
        /**
         * {@link #parse}: re-written compactly by the JSON writer; absent or null is refused at once
         * ({@link RejectReason#MISSING_FIELD}), a non-object too ({@link RejectReason#DATA_NOT_OBJECT}).
         */
        REWRITE,
        /**
         * {@link #parseValid} and other envelopes (CloudEvents): every number checked while read, the
         * source bytes kept when already compact; absent or null is refused by {@link Fields#valid()}.
         */
        KEEP_COMPACT,
        /** {@link #parseCanonical}: a record this library wrote; kept as its bytes, not checked. */
        TRUSTED
    }

    /**
     * Reads the event fields (tenant, id, type, subject, source, time, data) from a parser, one at
     * a time: the one field reader of every event form (the native line, a canonical journal record,
     * CloudEvents). What happens to a name that is not an event field is the caller's rule:
     * {@link #read} only reports it. {@code data} is read by the {@link DataRule} the caller chose.
     *
     * <p>Not thread-safe: one per event being read.
     */
    public static final class Fields {
        private final byte[] src;
        private final int srcOffset;
        private final DataRule dataRule;
        private String tenant;
        private String id;
        private String type;
        private String subject;
        private String source;
        private Instant time;
        private String data;

        /**
         * A reader that validates {@code data} as it reads it ({@link DataRule#KEEP_COMPACT}).
         *
         * @param src       the bytes the parser reads
         * @param srcOffset where the parser's input starts in {@code src} (its byte offsets count from there)
         */
        public Fields(byte[] src, int srcOffset) {
            this(src, srcOffset, DataRule.KEEP_COMPACT);
        }

        Fields(byte[] src, int srcOffset, DataRule dataRule) {
            this.src = src;
            this.srcOffset = srcOffset;
            this.dataRule = dataRule;
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
                case "data" -> data = switch (dataRule) {
                    case REWRITE -> EventData.copy(p, v);
                    case KEEP_COMPACT -> EventData.readCompact(p, v, src, srcOffset);
                    case TRUSTED -> EventData.readTrusted(p, v, src, srcOffset);
                };
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

        /** The fields read, unchecked (the store validates the event). */
        UsageEvent event() {
            return new UsageEvent(tenant, id, type, subject, source, time, data);
        }

        /** The fields of a canonical record, which must all be there; no rule is checked again. */
        ValidEvent canonical() throws EventRejectedException {
            if (tenant == null || id == null || type == null || subject == null || time == null || data == null) {
                throw new EventRejectedException(RejectReason.MISSING_FIELD, "a canonical record lacks a field");
            }
            return new ValidEvent(event());
        }

        private static String stringField(JsonParser p, JsonToken v, String name)
                throws IOException, EventRejectedException {
            if (v == JsonToken.VALUE_NULL) {
                return null;
            }
            if (v != JsonToken.VALUE_STRING) {
                throw new EventRejectedException(RejectReason.INVALID_FIELD,
                        "field '" + name + "' must be a string, got " + EventData.describe(v));
            }
            return p.getText();
        }
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
        return EventData.canonical(json);
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
