package dev.tally.store;

/**
 * A one-pass check of a {@code data} object given as text, for the common case only: compact
 * JSON (no white space), strings without escapes or surrogates, numbers in plain notation that
 * fit DECIMAL(38,9), at most {@value #MAX_DEPTH} levels and {@value #MAX_NAMES} names per object.
 * It answers {@code true} only when the text is a valid {@code data} object already in canonical
 * form, which {@link EventData#canonical} would return unchanged; {@code false} means "not
 * known", never "invalid": the caller then takes the full path through the JSON parser, which
 * gives the answer and the error message. So this class can only make the common case faster,
 * never accept what the parser refuses ({@code CompactDataTest} compares the two on generated
 * and mutated objects).
 *
 * <p>Why: creating a parser for each event's few dozen characters was most of an append's
 * validation time (the parser's setup, buffers and copy of the text), more than reading the tokens.
 *
 * <p>Thread-safe: stateless; each call keeps its state on its own stack.
 */
final class CompactData {
    /** Deeper objects go to the parser, which applies the configured nesting limit. */
    static final int MAX_DEPTH = 16;
    /** Objects with more names go to the parser, whose check is a hash set. */
    static final int MAX_NAMES = 16;
    /** Longer names go to the parser, which applies its own length limit. */
    private static final int MAX_NAME_CHARS = 256;
    private static final int MAX_INTEGER_DIGITS = EventCodec.DECIMAL_PRECISION - EventCodec.DECIMAL_SCALE;
    private static final int MAX_FRACTION_DIGITS = EventCodec.DECIMAL_SCALE;

    private CompactData() {
    }

    /** Whether {@code s} is a valid {@code data} object in canonical form; false when not known. */
    static boolean isCanonical(String s) {
        int n = s.length();
        if (n < 2 || s.charAt(0) != '{') {
            return false;
        }
        if (s.charAt(1) == '}') {
            return n == 2; // {}
        }
        // Per open container: whether it is an object, and where its names start in a stack of
        // the names of all open objects, each a (start, length) pair into s.
        boolean[] object = new boolean[MAX_DEPTH];
        int[] namesFrom = new int[MAX_DEPTH];
        int[] names = new int[16];
        int top = 0;
        object[0] = true;
        int depth = 1;
        int i = 1;
        // The grammar as states: in an object, after '{' or ',' a name comes; after ':', after
        // '[' or after ',' in an array, a value; after a value, ',' or a closing bracket.
        boolean expectValue = false;
        while (true) {
            if (i >= n) {
                return false;
            }
            boolean inObject = object[depth - 1];
            if (inObject && !expectValue) {
                // name ':'
                if (s.charAt(i) != '"') {
                    return false;
                }
                int start = i + 1;
                int end = plainStringEnd(s, start);
                if (end < 0 || end - start > MAX_NAME_CHARS) {
                    return false;
                }
                int from = namesFrom[depth - 1];
                if (top - from == 2 * MAX_NAMES) {
                    return false;
                }
                int len = end - start;
                for (int k = from; k < top; k += 2) {
                    if (names[k + 1] == len && s.regionMatches(names[k], s, start, len)) {
                        return false; // a repeated name: the parser refuses it with its message
                    }
                }
                if (top == names.length) {
                    names = java.util.Arrays.copyOf(names, top * 2);
                }
                names[top++] = start;
                names[top++] = len;
                i = end + 1;
                if (i >= n || s.charAt(i) != ':') {
                    return false;
                }
                i++;
                expectValue = true;
                continue;
            }
            // a value
            char c = s.charAt(i);
            if (c == '{' || c == '[') {
                if (depth == MAX_DEPTH) {
                    return false;
                }
                object[depth] = c == '{';
                namesFrom[depth] = top;
                depth++;
                i++;
                if (i < n && s.charAt(i) == (c == '{' ? '}' : ']')) {
                    depth--; // an empty container is a complete value
                    i++;
                } else {
                    expectValue = c == '[';
                    continue;
                }
            } else if (c == '"') {
                int end = plainStringEnd(s, i + 1);
                if (end < 0) {
                    return false;
                }
                i = end + 1;
            } else if (c == '-' || (c >= '0' && c <= '9')) {
                i = plainNumberEnd(s, i);
                if (i < 0) {
                    return false;
                }
            } else if (s.startsWith("true", i)) {
                i += 4;
            } else if (s.startsWith("false", i)) {
                i += 5;
            } else if (s.startsWith("null", i)) {
                i += 4;
            } else {
                return false;
            }
            // after a value: ',' or closing brackets (each closing a value of its parent)
            while (true) {
                if (i >= n) {
                    return false;
                }
                char d = s.charAt(i);
                boolean inObj = object[depth - 1];
                if (d == ',') {
                    i++;
                    expectValue = !inObj;
                    break;
                }
                if (d == (inObj ? '}' : ']')) {
                    depth--;
                    top = namesFrom[depth];
                    i++;
                    if (depth == 0) {
                        return i == n; // nothing may follow the object
                    }
                    continue;
                }
                return false;
            }
        }
    }

    /**
     * The index of the closing quote of a string whose text starts at {@code from}, or -1 when the
     * string is not plain (an escape, a control character, a surrogate) or not closed.
     */
    private static int plainStringEnd(String s, int from) {
        for (int i = from, n = s.length(); i < n; i++) {
            char c = s.charAt(i);
            if (c == '"') {
                return i;
            }
            if (c < 0x20 || c == '\\' || Character.isSurrogate(c)) {
                return -1;
            }
        }
        return -1;
    }

    /**
     * The index just past a JSON number in plain notation starting at {@code from} that fits
     * DECIMAL(38,9) as written ({@code -?(0|[1-9][0-9]*)(\.[0-9]+)?}), or -1 for anything else
     * (an exponent, a leading zero, too many digits).
     */
    private static int plainNumberEnd(String s, int from) {
        int n = s.length();
        int i = from;
        if (s.charAt(i) == '-') {
            i++;
        }
        int intStart = i;
        while (i < n && s.charAt(i) >= '0' && s.charAt(i) <= '9') {
            i++;
        }
        int intDigits = i - intStart;
        if (intDigits == 0 || intDigits > MAX_INTEGER_DIGITS || (intDigits > 1 && s.charAt(intStart) == '0')) {
            return -1;
        }
        if (i < n && s.charAt(i) == '.') {
            i++;
            int fracStart = i;
            while (i < n && s.charAt(i) >= '0' && s.charAt(i) <= '9') {
                i++;
            }
            int fracDigits = i - fracStart;
            if (fracDigits == 0 || fracDigits > MAX_FRACTION_DIGITS) {
                return -1;
            }
        }
        if (i < n && (s.charAt(i) == 'e' || s.charAt(i) == 'E')) {
            return -1;
        }
        return i;
    }
}
