package dev.tally.store;

import com.fasterxml.jackson.core.exc.StreamConstraintsException;
import com.fasterxml.jackson.core.io.JsonEOFException;
import java.io.CharConversionException;
import java.io.IOException;

/**
 * Turns what the JSON parser or the UTF-8 check refuses into an {@link EventRejectedException}
 * with its own {@link RejectReason} and a message free of parser internals.
 *
 * <p>Thread-safe: holds no mutable state.
 */
final class JsonRejections {

    private JsonRejections() {
    }

    /** Refuses malformed UTF-8 (overlong forms, encoded surrogates), which the JSON parser lets through. */
    static void checkUtf8(byte[] utf8, int offset, int length) throws EventRejectedException {
        int bad = firstInvalidUtf8(utf8, offset, length);
        if (bad >= 0) {
            throw new EventRejectedException(RejectReason.MALFORMED_UTF8, "the line is not valid UTF-8: "
                    + "invalid or overlong byte sequence at byte " + (bad - offset) + " (0x"
                    + String.format("%02X", utf8[bad] & 0xFF) + ")");
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

    static EventRejectedException translate(IOException e) {
        String msg = e instanceof com.fasterxml.jackson.core.JsonProcessingException jpe && jpe.getOriginalMessage() != null
                ? jpe.getOriginalMessage()
                : String.valueOf(e.getMessage());
        if (e instanceof StreamConstraintsException) {
            if (msg.contains("nesting depth")) {
                return new EventRejectedException(RejectReason.NESTING_TOO_DEEP,
                        "JSON nested deeper than " + EventCodec.MAX_NESTING_DEPTH + " levels");
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

}
