package dev.tally.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The parser-free check of {@code data} against the JSON parser's path: whatever it accepts, the
 * parser accepts and returns unchanged; and the common shapes it must take are taken.
 */
class CompactDataTest {

    /** Every text the check accepts is valid and canonical by the parser, on generated and mutated objects. */
    @Test
    void isCanonical_generatedAndMutated_neverAcceptsWhatTheParserChanges() {
        SplittableRandom rnd = new SplittableRandom(20261202);
        int accepted = 0;
        int acceptedMutants = 0;
        for (int round = 0; round < 40_000; round++) {
            String json = object(rnd, 0);
            accepted += agree(json) ? 1 : 0;
            for (int m = 0; m < 4; m++) {
                acceptedMutants += agree(mutate(rnd, json)) ? 1 : 0;
            }
        }
        // The generator makes mostly plain objects: the check must take a good share of them,
        // or it would be correct only by never answering.
        assertTrue(accepted > 10_000, "accepted only " + accepted + " of 40000 generated objects");
        assertTrue(acceptedMutants > 0, "no mutant accepted: the mutations prove nothing");
    }

    /** The shapes producers send are taken without the parser; the others are left to it. */
    @Test
    void isCanonical_examples_answerAsDocumented() {
        for (String yes : List.of("{}", "{\"tokens\":12}", "{\"model\":\"gpt-4o\",\"in\":1200,\"out\":35,\"cost\":0.000123}",
                "{\"a\":{\"b\":[1,2,{\"c\":null}],\"d\":true},\"e\":false,\"f\":[]}", "{\"a\":-0,\"b\":0.5,\"c\":-12.25}",
                "{\"région\":\"Zürich\",\"a\":{\"a\":1},\"b\":{\"a\":2}}", "{\"x\":\"" + "9".repeat(29) + "\"}",
                "{\"n\":" + "9".repeat(29) + "." + "9".repeat(9) + "}")) {
            assertTrue(CompactData.isCanonical(yes), yes);
            agree(yes);
        }
        for (String no : List.of("", "{", "[]", "{} ", " {}", "{\"a\":1,}", "{\"a\":1 }", "{\"a\":1e3}", "{\"a\":01}",
                "{\"a\":1.}", "{\"a\":.5}", "{\"a\":\"\\n\"}", "{\"a\":\"\u0001\"}", "{\"a\":1,\"a\":2}",
                "{\"a\":" + "9".repeat(30) + "}", "{\"a\":0." + "1".repeat(10) + "}", "{\"a\":truex}",
                "{\"a\":tru}", "{\"a\":NaN}", "{\"a\":1}}", "{\"a\":[1,2}", "{\"a\":\"\uD83D\uDE00\"}", "{'a':1}",
                "{\"a\":1}x", "{\"a\"1}", "{\"a\":}")) {
            assertFalse(CompactData.isCanonical(no), no);
            agree(no);
        }
    }

    /** Whether the check accepted {@code json}; fails when it accepted what the parser would refuse or change. */
    private static boolean agree(String json) {
        if (!CompactData.isCanonical(json)) {
            return false;
        }
        try {
            assertEquals(json, EventData.canonicalByParser(json), "accepted, but the parser changes it");
        } catch (EventRejectedException e) {
            fail("accepted, but the parser refuses it (" + e.reason() + ": " + e.getMessage() + "): " + json);
        }
        return true;
    }

    private static String object(SplittableRandom rnd, int depth) {
        StringBuilder b = new StringBuilder("{");
        int n = rnd.nextInt(depth == 0 ? 6 : 4);
        for (int i = 0; i < n; i++) {
            if (i > 0) {
                b.append(',');
            }
            b.append('"').append(name(rnd)).append("\":");
            value(rnd, depth, b);
        }
        return b.append('}').toString();
    }

    private static void value(SplittableRandom rnd, int depth, StringBuilder b) {
        int kind = rnd.nextInt(depth < 3 ? 9 : 7);
        switch (kind) {
            case 0, 1 -> b.append(number(rnd));
            case 2, 3 -> b.append('"').append(text(rnd)).append('"');
            case 4 -> b.append(List.of("true", "false", "null").get(rnd.nextInt(3)));
            case 5 -> b.append(number(rnd));
            case 6 -> b.append('"').append(name(rnd)).append('"');
            case 7 -> b.append(object(rnd, depth + 1));
            default -> {
                b.append('[');
                int n = rnd.nextInt(4);
                for (int i = 0; i < n; i++) {
                    if (i > 0) {
                        b.append(',');
                    }
                    value(rnd, depth + 1, b);
                }
                b.append(']');
            }
        }
    }

    /** Short names from a small alphabet, so that objects often repeat one. */
    private static String name(SplittableRandom rnd) {
        String[] names = {"a", "b", "c", "tokens", "A", "é", "a\\u0062", "ab", "x y", ""};
        return names[rnd.nextInt(names.length)];
    }

    private static String text(SplittableRandom rnd) {
        String[] parts = {"abc", "gpt-4o", "Zürich", "\\\"", "\\n", "\\u00e9", "\u0001", "\t", "\uD83D\uDE00", "\uD800",
            "'", "/", "\u007F", "\u2028"};
        StringBuilder b = new StringBuilder();
        int n = rnd.nextInt(3);
        for (int i = 0; i < n; i++) {
            b.append(parts[rnd.nextInt(parts.length)]);
        }
        return b.toString();
    }

    private static String number(SplittableRandom rnd) {
        String[] forms = {"0", "-0", "7", "-12", "120", "0.5", "-3.25", "1e3", "1E-2", "01", "-", "1.", ".5",
            "9".repeat(29), "9".repeat(30), "1." + "0".repeat(9), "1." + "0".repeat(10), "1.5e0", "-0.000000001",
            "00", "NaN", "Infinity", "+1", "0x10"};
        return forms[rnd.nextInt(forms.length)];
    }

    /** One random edit: delete, insert or repeat a character, swap two, or cut the end off. */
    private static String mutate(SplittableRandom rnd, String s) {
        if (s.isEmpty()) {
            return s;
        }
        int at = rnd.nextInt(s.length());
        String edits = "{}[]\":, \\e.-0a\u0000";
        String insert = String.valueOf(edits.charAt(rnd.nextInt(edits.length())));
        return switch (rnd.nextInt(5)) {
            case 0 -> s.substring(0, at) + s.substring(at + 1);
            case 1 -> s.substring(0, at) + insert + s.substring(at);
            case 2 -> s.substring(0, at) + s.charAt(at) + s.substring(at);
            case 3 -> {
                int other = rnd.nextInt(s.length());
                char[] c = s.toCharArray();
                char t = c[at];
                c[at] = c[other];
                c[other] = t;
                yield new String(c);
            }
            default -> s.substring(0, at);
        };
    }
}
