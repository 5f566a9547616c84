package dev.tally.store.correct;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tally.store.EventCodec;
import dev.tally.store.EventRejectedException;
import java.io.IOException;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * The JSON form of a {@link Correction}, the same over HTTP ({@code POST /v1/corrections}), in
 * the journal and on the command line:
 * <pre>{@code
 * {"correction_id": "c-1", "tenant": "acme", "kind": "void", "ids": ["req-1", "req-2"],
 *  "actor": "billing-ops", "reason": "test keys", "force": false}
 * {"correction_id": "c-2", "tenant": "acme", "kind": "amend", "replacement": {<an event>}, ...}
 * {"correction_id": "c-3", "tenant": "acme", "kind": "void_range",
 *  "range": {"subject": "key-17", "type": "llm.request", "from": "...Z", "to": "...Z"}, ...}
 * }</pre>
 * Unknown fields and a field given twice are refused; every refusal names the field.
 *
 * <p>Thread-safe: stateless.
 */
public final class CorrectionCodec {
    /** Numbers in a replacement's data keep their exact digits (no double in between). */
    private static final ObjectMapper JSON = new ObjectMapper().enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(com.fasterxml.jackson.databind.DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
            .enable(com.fasterxml.jackson.core.JsonGenerator.Feature.WRITE_BIGDECIMAL_AS_PLAIN)
            .setNodeFactory(com.fasterxml.jackson.databind.node.JsonNodeFactory.withExactBigDecimals(true));
    private static final Set<String> FIELDS = Set.of("correction_id", "tenant", "kind", "ids", "replacement", "range",
            "actor", "reason", "force");
    private static final Set<String> RANGE_FIELDS = Set.of("subject", "type", "from", "to");

    private CorrectionCodec() {
    }

    /** Parses one correction; throws {@link IllegalArgumentException} naming the field that is wrong. */
    public static Correction parse(String json) {
        JsonNode n;
        try {
            n = JSON.readTree(json);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalArgumentException("the correction is not valid JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw new IllegalArgumentException("the correction is not valid JSON: " + e.getMessage());
        }
        if (n == null || !n.isObject()) {
            throw new IllegalArgumentException("the correction must be a JSON object");
        }
        n.fieldNames().forEachRemaining(f -> {
            if (!FIELDS.contains(f)) {
                throw new IllegalArgumentException("unknown field '" + f + "' (allowed: " + new java.util.TreeSet<>(FIELDS)
                        + ")");
            }
        });
        String kindText = text(n, "kind", true);
        Correction.Kind kind;
        try {
            kind = Correction.Kind.valueOf(kindText.toUpperCase(java.util.Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("field 'kind' = '" + kindText + "' must be void, amend or void_range");
        }
        String id = text(n, "correction_id", true);
        String tenant = text(n, "tenant", true);
        String actor = text(n, "actor", false);
        String reason = text(n, "reason", false);
        JsonNode force = n.get("force");
        if (force != null && !force.isBoolean()) {
            throw new IllegalArgumentException("field 'force' must be true or false");
        }
        Correction c = switch (kind) {
            case VOID -> {
                JsonNode ids = n.get("ids");
                if (ids == null || !ids.isArray()) {
                    throw new IllegalArgumentException("field 'ids' must be an array of event ids for a void");
                }
                List<String> list = new ArrayList<>();
                for (JsonNode i : ids) {
                    if (!i.isTextual()) {
                        throw new IllegalArgumentException("field 'ids' must hold strings only");
                    }
                    list.add(i.asText());
                }
                yield Correction.voidIds(id, tenant, list, actor, reason);
            }
            case AMEND -> {
                JsonNode r = n.get("replacement");
                if (r == null || !r.isObject()) {
                    throw new IllegalArgumentException("field 'replacement' must be an event object for an amend");
                }
                try {
                    yield new Correction(id, tenant, kind, List.of(), EventCodec.parse(r.toString()), null, actor, reason,
                            false);
                } catch (EventRejectedException e) {
                    throw new IllegalArgumentException("field 'replacement': " + e.getMessage());
                }
            }
            case VOID_RANGE -> {
                JsonNode r = n.get("range");
                if (r == null || !r.isObject()) {
                    throw new IllegalArgumentException("field 'range' must be an object {from, to, subject?, type?}");
                }
                r.fieldNames().forEachRemaining(f -> {
                    if (!RANGE_FIELDS.contains(f)) {
                        throw new IllegalArgumentException("unknown field 'range." + f + "' (allowed: from, to, subject, "
                                + "type)");
                    }
                });
                yield Correction.voidRange(id, tenant, new Correction.Range(text(r, "subject", false),
                        text(r, "type", false), time(r, "from"), time(r, "to")), actor, reason);
            }
        };
        return force != null && force.asBoolean() ? c.forced() : c;
    }

    private static String text(JsonNode n, String field, boolean required) {
        JsonNode v = n.get(field);
        if (v == null || v.isNull()) {
            if (required) {
                throw new IllegalArgumentException("field '" + field + "' is required");
            }
            return null;
        }
        if (!v.isTextual()) {
            throw new IllegalArgumentException("field '" + field + "' must be a string");
        }
        return v.asText();
    }

    private static Instant time(JsonNode n, String field) {
        String t = text(n, field, true);
        try {
            return Instant.parse(t);
        } catch (DateTimeParseException e) {
            throw new IllegalArgumentException("field 'range." + field + "' = '" + t + "' is not an RFC 3339 UTC time "
                    + "like 2026-11-20T00:00:00Z");
        }
    }

    /** The JSON form of {@code c}. */
    public static String toJson(Correction c) {
        ObjectNode n = JSON.createObjectNode();
        n.put("correction_id", c.correctionId());
        n.put("tenant", c.tenant());
        n.put("kind", c.kind().code());
        switch (c.kind()) {
            case VOID -> c.ids().forEach(n.putArray("ids")::add);
            case AMEND -> {
                try {
                    n.set("replacement", JSON.readTree(EventCodec.toJson(c.replacement())));
                } catch (IOException e) {
                    throw new IllegalStateException(e);
                }
            }
            case VOID_RANGE -> {
                ObjectNode r = n.putObject("range");
                if (c.range().subject() != null) {
                    r.put("subject", c.range().subject());
                }
                if (c.range().type() != null) {
                    r.put("type", c.range().type());
                }
                r.put("from", c.range().from().toString());
                r.put("to", c.range().to().toString());
            }
        }
        n.put("actor", c.actor());
        n.put("reason", c.reason());
        n.put("force", c.force());
        return n.toString();
    }
}
