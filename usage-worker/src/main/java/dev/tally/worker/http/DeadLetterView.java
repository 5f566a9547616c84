package dev.tally.worker.http;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.core.StreamReadConstraints;
import dev.tally.store.RejectReason;
import dev.tally.store.dlq.DeadLetter;
import java.io.IOException;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * The answer of {@code GET /v1/dead-letters}: the queued dead letters of one tenant (or of all,
 * without tokens), counted by reason, with the newest few of each reason as examples.
 *
 * <p><b>Which tenant a dead letter belongs to.</b> An entry keeps the original line, not a parsed
 * event, so the tenant is read from the line: the value of its top-level {@code "tenant"} string
 * field (the event and the CloudEvent forms both name it so), read with a streaming parser up to
 * the first damage, so a line cut off or broken after its tenant still counts for that tenant. A
 * line with no readable top-level tenant, or with two different ones, belongs to no tenant: with
 * tokens no one sees it here (the operator reads it with {@code usage-worker dlq list} on the
 * host); without tokens it is listed with {@code "tenant": null}. A nested {@code "tenant"} (inside
 * {@code data}) never counts.
 *
 * <p>Thread-safe: stateless.
 */
final class DeadLetterView {
    /** Examples per reason when the request does not say. */
    static final int DEFAULT_EXAMPLES = 3;
    /** The most examples per reason a request may ask for. */
    static final int MAX_EXAMPLES = 20;
    /** Characters of an example's original line in the answer; the rest is cut (and said so). */
    static final int MAX_TEXT_CHARS = 2_000;

    // NaN and Infinity are refused events, not damage: read past them to a tenant named after them.
    private static final JsonFactory FACTORY = JsonFactory.builder()
            .enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS)
            .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(64).build()).build();

    private DeadLetterView() {
    }

    /**
     * The answer for {@code tenant} (null: every entry, attributed or not; only without tokens).
     *
     * @param examples examples per reason, 0 to {@link #MAX_EXAMPLES}
     */
    static Map<String, Object> answer(List<DeadLetter> queued, String tenant, int examples) {
        Map<RejectReason, Long> counts = new EnumMap<>(RejectReason.class);
        Map<RejectReason, List<Map<String, Object>>> newest = new EnumMap<>(RejectReason.class);
        long total = 0;
        // The queue is oldest first; walking it backwards gives each reason's newest examples first.
        for (int i = queued.size() - 1; i >= 0; i--) {
            DeadLetter d = queued.get(i);
            String owner = tenantOf(d);
            if (tenant != null && !tenant.equals(owner)) {
                continue;
            }
            total++;
            counts.merge(d.reason(), 1L, Long::sum);
            List<Map<String, Object>> list = newest.computeIfAbsent(d.reason(), r -> new ArrayList<>());
            if (list.size() < examples) {
                list.add(example(d, owner));
            }
        }
        List<Map<String, Object>> reasons = new ArrayList<>();
        for (Map.Entry<RejectReason, Long> c : counts.entrySet()) {
            Map<String, Object> r = Json.object();
            r.put("reason", c.getKey().code());
            r.put("count", c.getValue());
            r.put("examples", newest.getOrDefault(c.getKey(), List.of()));
            reasons.add(r);
        }
        // Largest first: what an operator should look at first.
        reasons.sort((a, b) -> Long.compare((Long) b.get("count"), (Long) a.get("count")));
        Map<String, Object> out = Json.object();
        out.put("tenant", tenant);
        out.put("queued", total);
        out.put("reasons", reasons);
        return out;
    }

    /** Parses the {@code examples} parameter. */
    static int examples(String value) {
        if (value == null) {
            return DEFAULT_EXAMPLES;
        }
        try {
            int n = Integer.parseInt(value.trim());
            if (n >= 0 && n <= MAX_EXAMPLES) {
                return n;
            }
        } catch (NumberFormatException e) {
            // answered below
        }
        throw ApiException.badRequest("invalid_parameter", "examples = '" + value + "': must be a whole number from 0 to "
                + MAX_EXAMPLES);
    }

    private static Map<String, Object> example(DeadLetter d, String owner) {
        Map<String, Object> m = Json.object();
        m.put("tenant", owner);
        m.put("source", d.source());
        m.put("offset", d.offset());
        m.put("reason", d.reason().code());
        m.put("message", d.message());
        boolean binary = d.text() == null;
        String kept = binary ? d.base64() : d.text();
        boolean cut = kept.length() > MAX_TEXT_CHARS;
        if (cut) {
            int end = MAX_TEXT_CHARS;
            if (Character.isHighSurrogate(kept.charAt(end - 1))) {
                end--; // never split a character in two
            }
            kept = kept.substring(0, end);
        }
        m.put("encoding", binary ? "base64" : "text");
        m.put("original", kept);
        m.put("length", d.length());
        m.put("truncated", cut || d.truncated());
        m.put("attempts", d.attempts());
        m.put("first_seen", d.firstSeen().toString());
        m.put("last_attempt", d.lastAttempt().toString());
        return m;
    }

    /** The tenant the entry's original line names at its top level, or null (see the class comment). */
    static String tenantOf(DeadLetter d) {
        byte[] line = d.originalBytes();
        String found = null;
        try (JsonParser p = FACTORY.createParser(line)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                return null;
            }
            int depth = 1;
            JsonToken t;
            while (depth > 0 && (t = p.nextToken()) != null) {
                switch (t) {
                    case START_OBJECT, START_ARRAY -> depth++;
                    case END_OBJECT, END_ARRAY -> depth--;
                    case FIELD_NAME -> {
                        if (depth == 1 && p.currentName().equals("tenant")) {
                            if (p.nextToken() != JsonToken.VALUE_STRING) {
                                return null;
                            }
                            String v = p.getText();
                            if (found != null && !found.equals(v)) {
                                return null; // two tenants: which one is meant is not knowable
                            }
                            found = v;
                        }
                    }
                    default -> {
                    }
                }
            }
        } catch (IOException | RuntimeException e) {
            // Damage past this point: what was read before it stands.
        }
        return found;
    }
}
