package dev.tally.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class EventRulesTest {
    private static final Instant NOW = Instant.parse("2026-11-20T12:00:00Z");
    private static final EventRules RULES = new EventRules(Duration.ofDays(30), Duration.ofMinutes(5));

    private static UsageEvent event(String tenant, String data) {
        return new UsageEvent(tenant, "r1", "llm.request", "k1", "", Instant.parse("2026-11-20T10:00:00.123456789Z"), data);
    }

    /** The tenant rule, with its length limit, is one function every caller shares. */
    @Test
    void isTenant_acceptsTheDocumentedShapeOnly() {
        assertTrue(EventRules.isTenant("acme"));
        assertTrue(EventRules.isTenant("9a.b_c-d"));
        assertTrue(EventRules.isTenant("a".repeat(64)));
        assertFalse(EventRules.isTenant("a".repeat(65)));
        assertFalse(EventRules.isTenant(""));
        assertFalse(EventRules.isTenant(null));
        assertFalse(EventRules.isTenant("-acme"));
        assertFalse(EventRules.isTenant("ac me"));
        assertFalse(EventRules.isTenant("acmé"));
    }

    /** canonical() returns the stored form: time in whole microseconds, empty source as null, data compact and plain. */
    @Test
    void canonical_returnsStoredForm() throws Exception {
        ValidEvent v = EventRules.canonical(event("acme", "{ \"n\": 1e2 }"));
        assertEquals(Instant.parse("2026-11-20T10:00:00.123456Z"), v.time());
        assertNull(v.event().source());
        assertEquals("{\"n\":100}", v.event().data());
    }

    /**
     * A name repeated in one object of {@code data} is refused, at any depth and past the short
     * list of names, while the same name in different objects, or in an array's objects, is not.
     */
    @Test
    void canonical_repeatedNameInDataObject_refusedAsDuplicateKey() throws Exception {
        StringBuilder wide = new StringBuilder("{");
        for (int i = 0; i < 40; i++) {
            wide.append("\"k").append(i).append("\":").append(i).append(',');
        }
        for (String bad : new String[] {"{\"a\":1,\"a\":2}", "{\"a\":{\"b\":1,\"c\":[],\"b\":2}}",
                "{\"x\":[{\"a\":1,\"a\":1}]}", wide + "\"k7\":0}", wide + "\"z\":{},\"z\":1}"}) {
            EventRejectedException e = assertThrows(EventRejectedException.class,
                    () -> EventRules.canonical(event("acme", bad)), bad);
            assertEquals(RejectReason.DUPLICATE_KEY, e.reason(), bad);
            assertTrue(e.getMessage().startsWith("Duplicate field"), e.getMessage());
        }
        for (String good : new String[] {"{\"a\":{\"a\":{\"a\":1}},\"b\":[{\"a\":1},{\"a\":2}]}",
                wide + "\"z\":{\"k1\":1}}"}) {
            assertEquals(good, EventRules.canonical(event("acme", good)).event().data());
        }
    }

    /** Clock-free rules do not need a clock; the time bounds are checked separately against one. */
    @Test
    void checkTime_refusesOnlyOutsideTheBounds() throws Exception {
        ValidEvent v = EventRules.canonical(event("acme", "{}"));
        RULES.checkTime(v.time(), NOW);
        assertEquals(RejectReason.TIME_TOO_OLD, assertThrows(EventRejectedException.class,
                () -> RULES.checkTime(v.time(), NOW.plus(Duration.ofDays(31)))).reason());
        assertEquals(RejectReason.TIME_IN_FUTURE, assertThrows(EventRejectedException.class,
                () -> RULES.checkTime(v.time(), NOW.minus(Duration.ofHours(3)))).reason());
        assertEquals(RejectReason.INVALID_FIELD, assertThrows(EventRejectedException.class,
                () -> RULES.validate(event("a b", "{}"), NOW)).reason());
    }

    /** The codec's one-pass parse gives the same event as parse-then-validate, and its refusals carry the same reasons. */
    @Test
    void parseValid_agreesWithParseThenCanonical() throws Exception {
        String line = "{\"tenant\":\"acme\",\"id\":\"r1\",\"type\":\"t\",\"subject\":\"k\",\"source\":\"api\","
                + "\"time\":\"2026-11-20T10:00:00.5+01:00\",\"data\":{\"in\":12.50,\"x\":1E+3,\"n\":[1,{\"a\":null}]}}";
        byte[] b = line.getBytes(StandardCharsets.UTF_8);
        assertEquals(EventRules.canonical(EventCodec.parse(b, 0, b.length)), EventCodec.parseValid(b, 0, b.length));
        for (String bad : new String[] {
                line.replace("\"acme\"", "\"-x\""), line.replace("\"in\":12.50", "\"in\":1e40"),
                line.replace("{\"in\"", "{\"in\":1,\"in\""), line.replace("\"subject\":\"k\",", "")}) {
            byte[] bb = bad.getBytes(StandardCharsets.UTF_8);
            RejectReason expected = assertThrows(EventRejectedException.class,
                    () -> EventRules.canonical(EventCodec.parse(bb, 0, bb.length))).reason();
            assertEquals(expected, assertThrows(EventRejectedException.class,
                    () -> EventCodec.parseValid(bb, 0, bb.length)).reason(), bad);
        }
    }

    /** A canonical record reads back to the very event that was written. */
    @Test
    void parseCanonical_readsBackWhatWasWritten() throws Exception {
        ValidEvent v = EventRules.canonical(event("acme", "{\"s\":\"a\\\"b\",\"n\":[1.5,-2]}"));
        byte[] json = EventCodec.toJsonBytes(v);
        assertEquals(v, EventCodec.parseCanonical(json, 0, json.length));
    }
}
