package dev.tally.store;

import java.nio.charset.StandardCharsets;
import java.time.Instant;

/**
 * Reads a canonical journal record in the exact layout {@link EventCodec#toJson} writes when no
 * string needs escaping, without the JSON parser:
 * {@code {"tenant":"…","id":"…","type":"…","subject":"…"[,"source":"…"],"time":"…","data":{…}}}.
 * Anything else (a byte outside ASCII, an escape, a control character, another field order, a
 * time not in the 27-character form, a {@code data} object {@link CompactData} does not vouch
 * for) answers null, and the caller reads the record with the parser as before. So it can only read faster what the
 * parser reads, never differently: {@code EventCodecTest} holds the two together.
 *
 * <p>Stateless and thread-safe.
 */
final class CanonicalLayout {
    private static final byte[] TENANT = ascii("{\"tenant\":\"");
    private static final byte[] ID = ascii(",\"id\":\"");
    private static final byte[] TYPE = ascii(",\"type\":\"");
    private static final byte[] SUBJECT = ascii(",\"subject\":\"");
    private static final byte[] SOURCE = ascii(",\"source\":\"");
    private static final byte[] TIME = ascii(",\"time\":\"");
    private static final byte[] DATA = ascii(",\"data\":");
    private static final int TIME_CHARS = 27;

    private CanonicalLayout() {
    }

    /** The event in {@code b[off, off+len)}, or null when the record is not in the layout above. */
    static ValidEvent read(byte[] b, int off, int len) {
        int end = off + len;
        if (len < 2 || b[end - 1] != '}') {
            return null;
        }
        // ASCII only: every string is then its bytes, and no UTF-8 question is left to the parser.
        for (int k = off; k < end; k++) {
            if (b[k] < 0) {
                return null;
            }
        }
        Cursor c = new Cursor(b, off, end - 1); // the record's closing brace is not read
        String tenant = c.field(TENANT);
        String id = tenant == null ? null : c.field(ID);
        String type = id == null ? null : c.field(TYPE);
        String subject = type == null ? null : c.field(SUBJECT);
        if (subject == null) {
            return null;
        }
        String source = null;
        if (c.at(SOURCE)) {
            source = c.field(SOURCE);
            if (source == null) {
                return null;
            }
        }
        String timeText = c.field(TIME);
        if (timeText == null || timeText.length() != TIME_CHARS || !c.skip(DATA)) {
            return null;
        }
        Instant time = EventCodec.parseCanonicalTime(timeText);
        String data = c.rest();
        if (time == null || !CompactData.isCanonical(data)) { // which also requires an object
            return null;
        }
        return new ValidEvent(new UsageEvent(tenant, id, type, subject, source, time, data));
    }

    private static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }

    /** A position in the record. Not thread-safe: one per record. */
    private static final class Cursor {
        private final byte[] b;
        private final int end;
        private int i;

        Cursor(byte[] b, int from, int end) {
            this.b = b;
            this.i = from;
            this.end = end;
        }

        boolean at(byte[] lit) {
            if (end - i < lit.length) {
                return false;
            }
            for (int k = 0; k < lit.length; k++) {
                if (b[i + k] != lit[k]) {
                    return false;
                }
            }
            return true;
        }

        boolean skip(byte[] lit) {
            if (!at(lit)) {
                return false;
            }
            i += lit.length;
            return true;
        }

        /**
         * The string after {@code lit} up to its closing quote, or null when {@code lit} is not
         * next or the string holds an escape or a control character (the parser's case).
         */
        String field(byte[] lit) {
            if (!skip(lit)) {
                return null;
            }
            int from = i;
            for (; i < end; i++) {
                byte v = b[i];
                if (v == '"') {
                    String s = new String(b, from, i - from, StandardCharsets.ISO_8859_1);
                    i++;
                    return s;
                }
                if (v == '\\' || v < 0x20) {
                    return null;
                }
            }
            return null;
        }

        /** The rest of the record up to its closing brace. */
        String rest() {
            return new String(b, i, end - i, StandardCharsets.ISO_8859_1);
        }
    }
}
