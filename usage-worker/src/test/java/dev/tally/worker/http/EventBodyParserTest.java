package dev.tally.worker.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tally.store.RejectReason;
import dev.tally.store.UsageEvent;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class EventBodyParserTest {
    static final String E1 = "{\"tenant\":\"acme\",\"id\":\"r1\",\"type\":\"llm.request\",\"subject\":\"k1\","
            + "\"time\":\"2026-11-20T10:00:00Z\",\"data\":{\"input_tokens\":12}}";
    static final String E2 = "{\"tenant\":\"acme\",\"id\":\"r2\",\"type\":\"llm.request\",\"subject\":\"k1\","
            + "\"time\":\"2026-11-20T10:00:01Z\",\"data\":{\"input_tokens\":0.000000001}}";

    private static EventBodyParser.Parsed parse(String body, String type) {
        return EventBodyParser.parse(body.getBytes(StandardCharsets.UTF_8), type);
    }

    /** One JSON object is one event, read with the store's codec. */
    @Test
    void parse_singleObject_givesOneEvent() {
        EventBodyParser.Parsed p = parse(E1, "application/json");
        assertEquals(1, p.size());
        assertEquals("r1", p.events().get(0).id());
        assertEquals("{\"input_tokens\":12}", p.events().get(0).event().data());
        assertTrue(p.rejections().isEmpty());
    }

    /** A bad element of an array is rejected at its index with its id and reason; the others are kept. */
    @Test
    void parse_arrayWithBadElements_rejectsThoseAtTheirIndex() {
        String bad = "{\"tenant\":\"acme\",\"id\":\"r3\",\"data\":{\"a\":1,\"a\":2}}";
        EventBodyParser.Parsed p = parse("[" + E1 + ", 7, " + bad + "," + E2 + "]", null);
        assertEquals(4, p.size());
        assertNotNull(p.events().get(0));
        assertNull(p.events().get(1));
        assertNull(p.events().get(2));
        assertEquals("r2", p.events().get(3).id());
        assertEquals(2, p.rejections().size());
        assertEquals(1, p.rejections().get(0).index());
        assertEquals(RejectReason.INVALID_JSON, p.rejections().get(0).reason());
        assertEquals(2, p.rejections().get(1).index());
        assertEquals("r3", p.rejections().get(1).id());
        assertEquals(RejectReason.DUPLICATE_KEY, p.rejections().get(1).reason());
    }

    /** NDJSON lines are events; blank lines are skipped and a broken line is rejected on its own. */
    @Test
    void parse_ndjson_readsEachLine() {
        String body = E1 + "\n\n{\"tenant\":\"acme\",\"id\":\"cut\n" + E2 + "\r\n";
        EventBodyParser.Parsed p = parse(body, "application/x-ndjson");
        assertEquals(3, p.size());
        assertEquals(RejectReason.INVALID_JSON, p.rejections().get(0).reason());
        assertEquals(1, p.rejections().get(0).index());
        assertEquals("r2", p.events().get(2).id());
        // Without a declared type, objects one after another are read as NDJSON too.
        assertEquals(2, parse(E1 + "\n" + E2, null).size());
    }

    /** A structured CloudEvent maps id, source, type, subject, time, data and the tenant extension. */
    @Test
    void parse_cloudEvent_mapsAttributesAndTenantExtension() {
        String ce = "{\"specversion\":\"1.0\",\"id\":\"c1\",\"source\":\"/gateway/eu\",\"type\":\"llm.request\","
                + "\"subject\":\"k9\",\"time\":\"2026-11-20T10:00:00.5Z\",\"tenant\":\"acme\","
                + "\"datacontenttype\":\"application/json\",\"traceparent\":\"00-abc\","
                + "\"data\":{\"input_tokens\": 5, \"model\":\"m\"}}";
        EventBodyParser.Parsed p = parse(ce, "application/cloudevents+json");
        UsageEvent e = p.events().get(0).event();
        // data comes out compact, as for a native event: one field reader for both.
        assertEquals(new UsageEvent("acme", "c1", "llm.request", "k9", "/gateway/eu",
                Instant.parse("2026-11-20T10:00:00.5Z"), "{\"input_tokens\":5,\"model\":\"m\"}"), e);
        EventBodyParser.Parsed batch = parse("[" + ce + "," + ce.replace("\"c1\"", "\"c2\"") + "]",
                "application/cloudevents-batch+json");
        assertEquals("c2", batch.events().get(1).id());
        // In a plain JSON array, an object with specversion is a CloudEvent as well.
        assertEquals("acme", parse("[" + ce + "]", "application/json").events().get(0).tenant());
    }

    /** CloudEvents the store cannot take are rejected per event with a reason naming the attribute. */
    @Test
    void parse_badCloudEvents_areRejectedWithReasons() {
        String base64 = "{\"specversion\":\"1.0\",\"id\":\"c1\",\"source\":\"s\",\"type\":\"t\",\"data_base64\":\"AA==\"}";
        String version = "{\"specversion\":\"0.3\",\"id\":\"c2\",\"source\":\"s\",\"type\":\"t\",\"data\":{}}";
        String noSource = "{\"specversion\":\"1.0\",\"id\":\"c3\",\"type\":\"t\",\"data\":{}}";
        String scalarData = "{\"specversion\":\"1.0\",\"id\":\"c4\",\"source\":\"s\",\"type\":\"t\",\"data\":\"x\"}";
        EventBodyParser.Parsed p = parse("[" + base64 + "," + version + "," + noSource + "," + scalarData + "]",
                "application/cloudevents-batch+json");
        assertEquals(4, p.rejections().size());
        assertEquals(RejectReason.INVALID_FIELD, p.rejections().get(0).reason());
        assertTrue(p.rejections().get(0).message().contains("data_base64"));
        assertEquals(RejectReason.INVALID_FIELD, p.rejections().get(1).reason());
        assertEquals(RejectReason.MISSING_FIELD, p.rejections().get(2).reason());
        assertEquals(RejectReason.DATA_NOT_OBJECT, p.rejections().get(3).reason());
        assertEquals("c4", p.rejections().get(3).id());
    }

    /** A body that is not JSON, is empty, or has a non-JSON media type is refused as a whole. */
    @Test
    void parse_unusableBody_isRefusedWhole() {
        assertEquals("invalid_json", assertThrows(ApiException.class, () -> parse("[" + E1 + ",", null)).code());
        assertEquals("invalid_json", assertThrows(ApiException.class, () -> parse("hello", null)).code());
        assertEquals("empty_body", assertThrows(ApiException.class, () -> parse("  \n", null)).code());
        // A read limit of the parser carries no location: still a 400 with a plain message, not a 500.
        ApiException deep = assertThrows(ApiException.class,
                () -> parse("[" + E1.replace("12}", "{\"a\":".repeat(40) + "1" + "}".repeat(40) + "}") + "]", null));
        assertEquals("invalid_json", deep.code());
        assertTrue(deep.getMessage().contains("nested deeper than 32 levels"), deep.getMessage());
        ApiException media = assertThrows(ApiException.class, () -> parse(E1, "application/xml"));
        assertEquals(415, media.status());
        assertEquals("invalid_json", assertThrows(ApiException.class,
                () -> parse(E1 + E1, "application/cloudevents+json")).code());
    }

    /** Locations inside a sub-range of a buffer are found: the CloudEvent data span is exact. */
    @Test
    void cloudEvent_inSubRange_extractsExactDataSpan() throws Exception {
        String ce = "{\"specversion\":\"1.0\",\"id\":\"c1\",\"source\":\"s\",\"type\":\"t\",\"tenant\":\"acme\","
                + "\"subject\":\"k1\",\"time\":\"2026-11-20T10:00:00Z\",\"data\":{\"n\":[1,2]}}";
        byte[] b = ("xxxxx" + ce + "yyy").getBytes(StandardCharsets.UTF_8);
        UsageEvent e = EventBodyParser.cloudEvent(b, 5, ce.length()).event();
        assertEquals("{\"n\":[1,2]}", e.data());
    }
    /** The parser applies every clock-free event rule itself: a bad tenant or an over-long id is refused at its index. */
    @Test
    void parse_eventBreakingARule_isRejectedByTheParser() {
        String badTenant = E1.replace("\"acme\"", "\"-acme\"").replace("\"r1\"", "\"r9\"");
        String longId = E2.replace("\"r2\"", "\"" + "x".repeat(300) + "\"");
        EventBodyParser.Parsed p = parse("[" + badTenant + "," + longId + "," + E1 + "]", null);
        assertEquals(2, p.rejections().size());
        assertEquals(RejectReason.INVALID_FIELD, p.rejections().get(0).reason());
        assertEquals("r9", p.rejections().get(0).id());
        assertEquals(RejectReason.TOO_LONG, p.rejections().get(1).reason());
        assertEquals("r1", p.events().get(2).id());
    }

    /** Native and CloudEvents bodies give the same canonical data: exponents written plain, white space dropped. */
    @Test
    void parse_nativeAndCloudEvent_giveSameCanonicalData() {
        String data = "{ \"input_tokens\": 1.5E3, \"model\": \"m\" }";
        String nativeEvent = E1.replace("{\"input_tokens\":12}", data);
        String ce = "{\"specversion\":\"1.0\",\"id\":\"r1\",\"source\":\"s\",\"type\":\"llm.request\","
                + "\"tenant\":\"acme\",\"subject\":\"k1\",\"time\":\"2026-11-20T10:00:00Z\",\"data\":" + data + "}";
        String expected = "{\"input_tokens\":1500,\"model\":\"m\"}";
        assertEquals(expected, parse(nativeEvent, null).events().get(0).event().data());
        assertEquals(expected, parse(ce, "application/cloudevents+json").events().get(0).event().data());
    }
}
