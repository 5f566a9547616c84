package dev.tally.store;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import java.io.StringWriter;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;

/**
 * The {@code data} object of an event: read from a parser in one of three ways (re-written
 * compactly, kept as its own bytes when already compact, or taken unchecked from a record this
 * library wrote), and every number checked to fit DECIMAL(38,9) exactly. {@link EventCodec.Fields}
 * chooses the way per caller.
 *
 * <p>Thread-safe: holds no mutable state.
 */
final class EventData {

    private EventData() {
    }

    /**
     * Reads a {@code data} object that the parser is on and writes it compactly, numbers kept as
     * their exact text (exponents written plain).
     */
    static String copy(JsonParser p, JsonToken first) throws IOException, EventRejectedException {
        if (first == null || first == JsonToken.VALUE_NULL) {
            throw new EventRejectedException(RejectReason.MISSING_FIELD, "field 'data' is missing");
        }
        if (first != JsonToken.START_OBJECT) {
            throw new EventRejectedException(RejectReason.DATA_NOT_OBJECT,
                    "field 'data' must be a JSON object, got " + describe(first));
        }
        StringWriter out = new StringWriter(64);
        try (JsonGenerator g = EventCodec.FACTORY.createGenerator(out)) {
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

    /**
     * Reads a {@code data} value that the parser is on, checking every number, and returns it as
     * its own bytes of {@code src} when already compact (re-written only when it holds white space or
     * a number in exponent form). Null when the value is absent or null (the caller refuses it
     * later); an object is required otherwise.
     *
     * @param srcOffset where the parser's input starts in {@code src}
     */
    static String readCompact(JsonParser p, JsonToken first, byte[] src, int srcOffset)
            throws IOException, EventRejectedException {
        if (first == null || first == JsonToken.VALUE_NULL) {
            return null;
        }
        if (first != JsonToken.START_OBJECT) {
            p.skipChildren();
            throw new EventRejectedException(RejectReason.DATA_NOT_OBJECT,
                    "field 'data' must be a JSON object, got " + describe(first));
        }
        int from = (int) p.currentTokenLocation().getByteOffset();
        boolean rewrite = scanToObjectEnd(p, false); // this parser refuses repeated names itself
        int to = (int) p.currentLocation().getByteOffset();
        int at = srcOffset + from;
        int len = to - from;
        if (!rewrite && !hasWhitespace(src, at, len)) {
            return new String(src, at, len, StandardCharsets.UTF_8);
        }
        // Rare: white space between tokens or an exponent; write the compact form.
        try (JsonParser q = EventCodec.FACTORY.createParser(src, at, len)) {
            return copy(q, q.nextToken());
        }
    }

    /**
     * Reads a {@code data} object of a record this library wrote itself, unchecked, as its own bytes
     * of {@code src} (see {@link EventCodec#parseCanonical}).
     */
    static String readTrusted(JsonParser p, JsonToken v, byte[] src, int srcOffset)
            throws IOException, EventRejectedException {
        if (v != JsonToken.START_OBJECT) {
            throw new EventRejectedException(RejectReason.DATA_NOT_OBJECT, "field 'data' is not an object");
        }
        int from = (int) p.currentTokenLocation().getByteOffset();
        p.skipChildren();
        int to = (int) p.currentLocation().getByteOffset();
        return new String(src, srcOffset + from, to - from, StandardCharsets.UTF_8);
    }

    /**
     * Validates a {@code data} value given as JSON text and returns it in compact form with
     * numbers kept as their exact text.
     */
    static String canonical(String json) throws EventRejectedException {
        if (json == null) {
            throw new EventRejectedException(RejectReason.MISSING_FIELD, "field 'data' is missing");
        }
        // Fastest path: the common shape, checked without a parser (which knows every case).
        if (CompactData.isCanonical(json)) {
            return json;
        }
        return canonicalByParser(json);
    }

    /** {@link #canonical} through the JSON parser alone; package-private to compare the two in tests. */
    static String canonicalByParser(String json) throws EventRejectedException {
        try {
            // Fast path: machine-written JSON is usually already compact; validate it without
            // re-writing, and keep the text when it has no white space and no exponents.
            if (!hasWhitespace(json) && !validateOnly(json)) {
                return json;
            }
            try (JsonParser p = EventCodec.FACTORY.createParser(json)) {
                JsonToken t = p.nextToken();
                String data = copy(p, t);
                if (p.nextToken() != null) {
                    throw new EventRejectedException(RejectReason.INVALID_JSON,
                            "field 'data' has trailing content after the object");
                }
                return data;
            }
        } catch (IOException e) {
            throw JsonRejections.translate(e);
        }
    }

    /**
     * Reads from just after the {@code data} object's START_OBJECT to its END_OBJECT, checking
     * every number and, with {@code checkNames}, that no object repeats a field name; returns
     * whether a number needs re-writing (an exponent).
     */
    private static boolean scanToObjectEnd(JsonParser p, boolean checkNames) throws IOException, EventRejectedException {
        boolean rewrite = false;
        int depth = 1;
        ObjectNames names = checkNames ? new ObjectNames(null, true) : null;
        while (depth > 0) {
            JsonToken t = p.nextToken();
            if (t == null) {
                throw new EventRejectedException(RejectReason.INVALID_JSON, "field 'data' is not closed");
            }
            switch (t) {
                case START_OBJECT, START_ARRAY -> {
                    depth++;
                    if (names != null) {
                        names = new ObjectNames(names, t == JsonToken.START_OBJECT);
                    }
                }
                case END_OBJECT, END_ARRAY -> {
                    depth--;
                    if (names != null) {
                        names = names.parent;
                    }
                }
                case FIELD_NAME -> {
                    if (names != null && !names.add(p.currentName())) {
                        throw new EventRejectedException(RejectReason.DUPLICATE_KEY,
                                "Duplicate field '" + p.currentName() + "' in field 'data'");
                    }
                }
                case VALUE_NUMBER_INT, VALUE_NUMBER_FLOAT -> {
                    String text = checkedNumber(p);
                    rewrite |= text != p.getText() && !text.equals(p.getText());
                }
                default -> {
                }
            }
        }
        return rewrite;
    }

    /**
     * The field names of one object being read, to refuse a name given twice: a short list
     * compared one by one (data objects have a handful of names, and the parser's hash set per
     * object was about a quarter of the validation's time in an append's profile), a hash set past {@value #LINEAR_NAMES} names. Arrays get an
     * entry too, which holds no names, so that END_ARRAY finds its parent.
     */
    private static final class ObjectNames {
        private static final int LINEAR_NAMES = 16;
        final ObjectNames parent;
        private final boolean object;
        private String[] names;
        private int size;
        private java.util.HashSet<String> set;

        ObjectNames(ObjectNames parent, boolean object) {
            this.parent = parent;
            this.object = object;
        }

        /** Adds {@code name}; false when this object already has it. */
        boolean add(String name) {
            if (!object) {
                return true;
            }
            if (set != null) {
                return set.add(name);
            }
            if (names == null) {
                names = new String[4];
            }
            for (int i = 0; i < size; i++) {
                if (names[i].equals(name)) {
                    return false;
                }
            }
            if (size == names.length) {
                if (size >= LINEAR_NAMES) {
                    set = new java.util.HashSet<>(java.util.Arrays.asList(names));
                    return set.add(name);
                }
                names = java.util.Arrays.copyOf(names, size * 2);
            }
            names[size++] = name;
            return true;
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
        try (JsonParser p = EventCodec.DATA_FACTORY.createParser(json)) {
            JsonToken t = p.nextToken();
            if (t != JsonToken.START_OBJECT) {
                throw new EventRejectedException(t == null || t == JsonToken.VALUE_NULL ? RejectReason.MISSING_FIELD
                        : RejectReason.DATA_NOT_OBJECT, "field 'data' must be a JSON object, got "
                        + (t == null ? "nothing" : describe(t)));
            }
            rewrite = scanToObjectEnd(p, true);
            if (p.nextToken() != null) {
                throw new EventRejectedException(RejectReason.INVALID_JSON,
                        "field 'data' has trailing content after the object");
            }
        }
        return rewrite;
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
        if (scale > EventCodec.DECIMAL_SCALE || integerDigits > EventCodec.DECIMAL_PRECISION - EventCodec.DECIMAL_SCALE) {
            throw new EventRejectedException(RejectReason.NUMBER_OUT_OF_RANGE,
                    "field 'data." + path(p) + "' = " + EventCodec.abbreviate(text, 40) + " cannot be stored exactly as DECIMAL("
                            + EventCodec.DECIMAL_PRECISION + "," + EventCodec.DECIMAL_SCALE + "): at most "
                            + (EventCodec.DECIMAL_PRECISION - EventCodec.DECIMAL_SCALE) + " integer digits and " + EventCodec.DECIMAL_SCALE
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
        return integer <= EventCodec.DECIMAL_PRECISION - EventCodec.DECIMAL_SCALE && fraction <= EventCodec.DECIMAL_SCALE;
    }

    private static String path(JsonParser p) {
        try {
            String name = p.currentName();
            return name == null ? "[]" : name;
        } catch (IOException e) {
            return "?";
        }
    }

    static String describe(JsonToken t) {
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

}
