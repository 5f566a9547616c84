package dev.tally.worker.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.tally.store.RejectReason;
import dev.tally.store.dlq.DeadLetter;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Which tenant a dead letter belongs to, and what {@code GET /v1/dead-letters} answers for it. */
class DeadLetterViewTest {
    static final Instant T = Instant.parse("2026-12-01T00:00:00Z");

    static DeadLetter entry(String line, RejectReason reason, Instant at) {
        byte[] b = line.getBytes(StandardCharsets.UTF_8);
        return DeadLetter.of("spool:0/x.jsonl", 0, reason, "why", b, b.length, at);
    }

    static DeadLetter entry(String line) {
        return entry(line, RejectReason.INVALID_JSON, T);
    }

    /** A line cut off after its tenant still belongs to that tenant. */
    @Test
    void tenantOf_brokenAfterTenant_isThatTenant() {
        assertEquals("acme", DeadLetterView.tenantOf(entry("{\"tenant\":\"acme\",\"id\":\"1\",\"data\":{\"m\":\"ab")));
        assertEquals("acme", DeadLetterView.tenantOf(entry("{\"id\":\"1\",\"data\":{\"x\":NaN},\"tenant\":\"acme\"}")));
    }

    /** Lines without a readable top-level tenant, or with two, belong to no tenant; a nested one never counts. */
    @Test
    void tenantOf_noneOrAmbiguous_isNull() {
        assertNull(DeadLetterView.tenantOf(entry("not json")));
        assertNull(DeadLetterView.tenantOf(entry("[{\"tenant\":\"acme\"}]")));
        assertNull(DeadLetterView.tenantOf(entry("{\"data\":{\"tenant\":\"acme\"},\"id\":\"1\"}")));
        assertNull(DeadLetterView.tenantOf(entry("{\"tenant\":\"acme\",\"tenant\":\"globex\"}")));
        assertNull(DeadLetterView.tenantOf(entry("{\"tenant\":7}")));
        assertNull(DeadLetterView.tenantOf(entry("{\"tenan")));
    }

    /** A tenant's answer counts and shows only its own entries, newest first, at most the asked examples per reason. */
    @Test
    void answer_forTenant_onlyItsEntriesNewestFirst() {
        List<DeadLetter> queue = List.of(
                entry("{\"tenant\":\"acme\",\"id\":\"old\"", RejectReason.INVALID_JSON, T),
                entry("{\"tenant\":\"globex\",\"id\":\"g\"", RejectReason.INVALID_JSON, T.plusSeconds(1)),
                entry("{\"tenant\":\"acme\",\"id\":\"new\"", RejectReason.INVALID_JSON, T.plusSeconds(2)),
                entry("{\"tenant\":\"acme\",\"id\":\"d\"}", RejectReason.MISSING_FIELD, T.plusSeconds(3)),
                entry("garbage", RejectReason.INVALID_JSON, T.plusSeconds(4)));
        Map<String, Object> a = DeadLetterView.answer(queue, "acme", 1);
        assertEquals(3L, a.get("queued"));
        String json = Json.text(a);
        assertEquals(-1, json.indexOf("globex"), json);
        assertEquals(-1, json.indexOf("garbage"), json);
        assertEquals(-1, json.indexOf("\\\"old\\\""), json);
        @SuppressWarnings("unchecked")
        List<Map<String, Object>> reasons = (List<Map<String, Object>>) a.get("reasons");
        assertEquals("invalid_json", reasons.get(0).get("reason"));
        assertEquals(2L, reasons.get(0).get("count"));

        Map<String, Object> all = DeadLetterView.answer(queue, null, 3);
        assertEquals(5L, all.get("queued"));
    }

    /** The examples parameter takes 0 to 20 and names itself otherwise. */
    @Test
    void examples_outOfRange_invalidParameter() {
        assertEquals(DeadLetterView.DEFAULT_EXAMPLES, DeadLetterView.examples(null));
        assertEquals(0, DeadLetterView.examples("0"));
        ApiException e = assertThrows(ApiException.class, () -> DeadLetterView.examples("21"));
        assertEquals("invalid_parameter", e.code());
        assertThrows(ApiException.class, () -> DeadLetterView.examples("x"));
    }
}
