package dev.tally.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class EventCodecTest {
    private static final String LINE = "{\"tenant\":\"acme\",\"id\":\"r1\",\"type\":\"llm.request\",\"subject\":\"k\","
            + "\"source\":\"api\",\"time\":\"2026-11-20T10:00:00.123456Z\",\"data\":{\"in\":12.50,\"m\":\"x\",\"n\":[1,{\"a\":null}]}}";

    /** A line parses and writes back to the same text, numbers kept exactly. */
    @Test
    void parse_roundTripsExactly() throws Exception {
        UsageEvent e = EventCodec.parse(LINE);
        assertEquals(Instant.parse("2026-11-20T10:00:00.123456Z"), e.time());
        assertEquals("{\"in\":12.50,\"m\":\"x\",\"n\":[1,{\"a\":null}]}", e.data());
        assertEquals(LINE, EventCodec.toJson(e));
    }

    /** The hand-written time format equals the general formatter's, at the edges of its range and at random instants. */
    @Test
    void formatTime_handWritten_equalsGeneralFormatter() {
        java.time.format.DateTimeFormatter general = java.time.format.DateTimeFormatter
                .ofPattern("uuuu-MM-dd'T'HH:mm:ss.SSSSSS'Z'").withZone(java.time.ZoneOffset.UTC);
        java.util.List<Instant> times = new java.util.ArrayList<>(java.util.List.of(Instant.EPOCH,
                Instant.parse("1969-12-31T23:59:59.999999999Z"), Instant.parse("0000-01-01T00:00:00Z"),
                Instant.parse("0000-01-01T00:00:00Z").minusNanos(1), Instant.parse("9999-12-31T23:59:59.999999999Z"),
                Instant.parse("9999-12-31T23:59:59.999999999Z").plusNanos(1), Instant.parse("2024-02-29T12:34:56.000001Z")));
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(7);
        for (int i = 0; i < 100_000; i++) {
            times.add(Instant.ofEpochSecond(rnd.nextLong(-70_000_000_000L, 260_000_000_000L), rnd.nextInt(1_000_000_000)));
        }
        for (Instant t : times) {
            assertEquals(general.format(t.truncatedTo(java.time.temporal.ChronoUnit.MICROS)), EventCodec.formatTime(t),
                    t.toString());
        }
    }

    /** Events written without the generator (nothing to escape) equal the generator's text; the others take it. */
    @Test
    void toJson_directAndByGenerator_sameText() throws Exception {
        String[] texts = {"acme", "k-1", "llm.request", "Zürich", "a\"b", "back\\slash", "tab\tnew\nline", "\u0001",
            "\u007F", "\u2028", "\uD83D\uDE00", "\uD800", "", "/"};
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(11);
        for (int i = 0; i < 20_000; i++) {
            UsageEvent e = new UsageEvent(texts[rnd.nextInt(texts.length)], texts[rnd.nextInt(texts.length)],
                    texts[rnd.nextInt(texts.length)], texts[rnd.nextInt(texts.length)],
                    rnd.nextInt(3) == 0 ? null : texts[rnd.nextInt(texts.length)],
                    Instant.ofEpochSecond(rnd.nextLong(0, 4_000_000_000L), rnd.nextInt(1_000_000_000)),
                    rnd.nextInt(5) == 0 ? null : "{\"in\":" + rnd.nextInt(1000) + "}");
            assertEquals(EventCodec.toJsonByGenerator(e), EventCodec.toJson(e), e.toString());
        }
        UsageEvent e = EventCodec.parse(LINE);
        assertEquals(EventCodec.toJsonByGenerator(e), EventCodec.toJson(e));
    }

    /**
     * A canonical record read without the parser is the event the parser reads, for generated
     * events and for every edit of one byte the layout still accepts; records outside the layout
     * (escapes, other alphabets, unknown shapes) go to the parser.
     */
    @Test
    void parseCanonical_layoutAndParser_sameEvent() throws Exception {
        // Half of them plain, so that about a twentieth of the records are in the layout.
        String[] texts = {"acme", "k-1", "llm.request", "Zürich", "a\"b", "back\\slash", "tab\tline", "\u0001",
            "\u007F", "\uD83D\uDE00", "", "/", "key-42", "tenant-7"};
        String[] datas = {"{}", "{\"in\":12.50,\"m\":\"x\",\"n\":[1,{\"a\":null}]}", "{\"tokens\":977,\"model\":\"gpt-4o\"}",
            "{\"s\":\"é\"}", "{\"e\":\"a\\\"b\"}", "{\"d\":{\"e\":{\"f\":[true,false,-0.5]}}}", "{\"x\":1e3}"};
        byte[] edits = {'"', '\\', '{', '}', ',', ':', 'a', '0', '9', ' ', 'Z', '.', 1, 0x7F, (byte) 0xC3};
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(13);
        int viaLayout = 0;
        int editsAccepted = 0;
        for (int i = 0; i < 20_000; i++) {
            UsageEvent e = new UsageEvent(texts[rnd.nextInt(texts.length)], texts[rnd.nextInt(texts.length)],
                    texts[rnd.nextInt(texts.length)], texts[rnd.nextInt(texts.length)],
                    rnd.nextInt(3) == 0 ? null : texts[rnd.nextInt(texts.length)],
                    Instant.ofEpochSecond(rnd.nextLong(0, 4_000_000_000L), rnd.nextInt(1_000_000) * 1_000L),
                    EventData.canonical(datas[rnd.nextInt(datas.length)]));
            byte[] rec = EventCodec.toJson(e).getBytes(StandardCharsets.UTF_8);
            UsageEvent byParser = EventCodec.parseCanonicalByParser(rec, 0, rec.length).event();
            assertEquals(byParser, EventCodec.parseCanonical(rec, 0, rec.length).event());
            ValidEvent fast = CanonicalLayout.read(rec, 0, rec.length);
            if (fast != null) {
                viaLayout++;
                assertEquals(byParser, fast.event());
            }
            for (int k = 0; k < 4; k++) {
                byte[] x = rec.clone();
                x[rnd.nextInt(x.length)] = edits[rnd.nextInt(edits.length)];
                ValidEvent edited = CanonicalLayout.read(x, 0, x.length);
                if (edited != null) {
                    editsAccepted++;
                    assertEquals(EventCodec.parseCanonicalByParser(x, 0, x.length).event(), edited.event(),
                            new String(x, StandardCharsets.UTF_8));
                }
            }
        }
        assertTrue(viaLayout > 500, "records read without the parser: " + viaLayout);
        assertTrue(editsAccepted > 500, "edited records read without the parser: " + editsAccepted);
        byte[] line = LINE.getBytes(StandardCharsets.UTF_8);
        assertEquals(EventCodec.parseCanonicalByParser(line, 0, line.length).event(), CanonicalLayout.read(line, 0,
                line.length).event());
    }

    /** Sub-microsecond digits are truncated; offsets are converted to UTC. */
    @Test
    void parseTime_truncatesToMicrosAndNormalizesOffset() throws Exception {
        assertEquals(Instant.parse("2026-11-20T09:00:00.123456Z"), EventCodec.parseTime("2026-11-20T10:00:00.123456789+01:00"));
    }

    /** The canonical form and the general ISO form parse to the same instant; impossible dates are refused either way. */
    @Test
    void parseTime_canonicalFastPathAgreesWithGeneralForm() throws Exception {
        assertEquals(EventCodec.parseTime("2026-11-20T10:00:00.123456+00:00"), EventCodec.parseTime("2026-11-20T10:00:00.123456Z"));
        assertEquals(Instant.parse("2024-02-29T23:59:59.999999Z"), EventCodec.parseTime("2024-02-29T23:59:59.999999Z"));
        for (String bad : new String[] {"2026-02-30T10:00:00.000000Z", "2026-13-01T10:00:00.000000Z",
                "2026-11-20T24:00:00.000000Z", "2026-11-20T10:00:00.00000xZ"}) {
            assertThrows(EventRejectedException.class, () -> EventCodec.parseTime(bad), bad);
        }
    }

    /** Each kind of bad input is refused with its own reason. */
    @Test
    void parse_refusesHostileInputWithReasons() {
        assertReason(RejectReason.DUPLICATE_KEY, LINE.replace("\"m\":\"x\"", "\"m\":\"x\",\"m\":\"y\""));
        assertReason(RejectReason.NON_FINITE_NUMBER, LINE.replace("12.50", "NaN"));
        assertReason(RejectReason.NON_FINITE_NUMBER, LINE.replace("12.50", "-Infinity"));
        assertReason(RejectReason.NUMBER_OUT_OF_RANGE, LINE.replace("12.50", "1e40"));
        assertReason(RejectReason.NUMBER_OUT_OF_RANGE, LINE.replace("12.50", "0.0000000001"));
        assertReason(RejectReason.NUMBER_OUT_OF_RANGE, LINE.replace("12.50", "1" + "0".repeat(200)));
        assertReason(RejectReason.NESTING_TOO_DEEP, LINE.replace("12.50", "[".repeat(40) + "]".repeat(40)));
        assertReason(RejectReason.INVALID_FIELD, LINE.replace("\"acme\"", "7"));
        assertReason(RejectReason.INVALID_FIELD, LINE.replace("\"source\"", "\"extra\""));
        assertReason(RejectReason.INVALID_FIELD, LINE.replace("2026-11-20T10", "20261120T10"));
        assertReason(RejectReason.DATA_NOT_OBJECT, LINE.replace("{\"in\":12.50,\"m\":\"x\",\"n\":[1,{\"a\":null}]}", "[1]"));
        assertReason(RejectReason.INVALID_JSON, LINE.substring(0, LINE.length() - 3));
        assertReason(RejectReason.INVALID_JSON, LINE + "{}");
        byte[] bad = LINE.replace("acme", "ac\u00e9e").getBytes(StandardCharsets.UTF_8);
        bad[LINE.indexOf("acme") + 2] = (byte) 0xFF;
        EventRejectedException e = assertThrows(EventRejectedException.class, () -> EventCodec.parse(bad, 0, bad.length));
        assertEquals(RejectReason.MALFORMED_UTF8, e.reason(), e.getMessage());
    }

    /**
     * Invalid UTF-8 the JSON parser would decode rather than refuse: overlong forms (C0 AF is an
     * overlong '/'), encoded surrogates, code points above U+10FFFF, truncated sequences. Valid
     * 2-, 3- and 4-byte characters still pass.
     */
    @Test
    void parse_refusesOverlongAndSurrogateUtf8() throws Exception {
        byte[][] bad = {{(byte) 0xC0, (byte) 0xAF}, {(byte) 0xC1, (byte) 0xBF}, {(byte) 0xE0, (byte) 0x80, (byte) 0xAF},
            {(byte) 0xF0, (byte) 0x80, (byte) 0x80, (byte) 0xAF}, {(byte) 0xED, (byte) 0xA0, (byte) 0x80},
            {(byte) 0xF4, (byte) 0x90, (byte) 0x80, (byte) 0x80}, {(byte) 0xE2, (byte) 0x82}, {(byte) 0x80}};
        for (byte[] seq : bad) {
            byte[] line = withSubjectBytes(seq);
            EventRejectedException e = assertThrows(EventRejectedException.class,
                    () -> EventCodec.parse(line, 0, line.length), java.util.Arrays.toString(seq));
            assertEquals(RejectReason.MALFORMED_UTF8, e.reason(), e.getMessage());
            assertTrue(e.getMessage().contains("at byte " + (LINE.indexOf("\"k\"") + 2)), e.getMessage());
        }
        byte[] ok = withSubjectBytes("\u00e9\u20ac\ud83d\ude00".getBytes(StandardCharsets.UTF_8));
        assertEquals("k\u00e9\u20ac\ud83d\ude00", EventCodec.parse(ok, 0, ok.length).subject());
    }

    private static byte[] withSubjectBytes(byte[] seq) {
        String[] around = LINE.replace("\"subject\":\"k\"", "\"subject\":\"k\u0001\"").split("\u0001");
        byte[] head = around[0].getBytes(StandardCharsets.UTF_8);
        byte[] tail = around[1].getBytes(StandardCharsets.UTF_8);
        byte[] all = new byte[head.length + seq.length + tail.length];
        System.arraycopy(head, 0, all, 0, head.length);
        System.arraycopy(seq, 0, all, head.length, seq.length);
        System.arraycopy(tail, 0, all, head.length + seq.length, tail.length);
        return all;
    }

    /** Exponent numbers that fit are stored in plain form so DuckDB's DECIMAL cast reads them. */
    @Test
    void canonicalData_writesExponentsPlain() throws Exception {
        assertEquals("{\"a\":1200}", EventCodec.canonicalData("{\"a\": 1.2e3}"));
    }

    /**
     * The one field reader keeps each caller's data rule: the single-event parser re-writes data
     * and refuses a null data at once; the validating parser keeps data's bytes and reports a null
     * data only after the whole object (so a later unknown field is what it refuses); a canonical
     * record keeps its bytes unchecked.
     */
    @Test
    void parse_eachCallerKeepsItsDataRule() throws Exception {
        byte[] escaped = ("{\"tenant\":\"acme\",\"id\":\"i\",\"type\":\"t\",\"subject\":\"s\","
                + "\"time\":\"2026-11-20T10:00:00.000000Z\",\"data\":{\"k\":\"\\u00e9\"}}")
                .getBytes(StandardCharsets.UTF_8);
        assertEquals("{\"k\":\"\u00e9\"}", EventCodec.parse(escaped, 0, escaped.length).data());
        assertEquals("{\"k\":\"\\u00e9\"}", EventCodec.parseValid(escaped, 0, escaped.length).event().data());
        assertEquals("{\"k\":\"\\u00e9\"}", EventCodec.parseCanonical(escaped, 0, escaped.length).event().data());

        byte[] nullThenUnknown = "{\"data\":null,\"extra\":1}".getBytes(StandardCharsets.UTF_8);
        assertEquals(RejectReason.MISSING_FIELD, assertThrows(EventRejectedException.class,
                () -> EventCodec.parse(nullThenUnknown, 0, nullThenUnknown.length)).reason());
        assertEquals(RejectReason.INVALID_FIELD, assertThrows(EventRejectedException.class,
                () -> EventCodec.parseValid(nullThenUnknown, 0, nullThenUnknown.length)).reason());
    }

    private static void assertReason(RejectReason expected, String line) {
        EventRejectedException e = assertThrows(EventRejectedException.class, () -> EventCodec.parse(line), line);
        assertEquals(expected, e.reason(), e.getMessage());
        assertTrue(!e.getMessage().isBlank());
        assertFalse(e.getMessage().contains("Source:") || e.getMessage().contains("REDACTED"),
                "no parser internals in the message: " + e.getMessage());
    }
}
