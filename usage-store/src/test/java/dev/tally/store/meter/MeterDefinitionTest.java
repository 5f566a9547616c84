package dev.tally.store.meter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Meter definitions, the JSON meter file and query checks refuse bad input naming the field, the value and the reason. */
class MeterDefinitionTest {
    @TempDir
    Path dir;

    private static InvalidMeterException refused(Runnable r) {
        return assertThrows(InvalidMeterException.class, r::run);
    }

    /** Names, missing value properties and every malformed JSON path are refused with the field named. */
    @Test
    void definition_refusesBadNamesMissingValuesAndMalformedPaths() {
        InvalidMeterException e = refused(() -> new MeterDefinition("tokens; drop", "t", Aggregation.SUM, "$.a"));
        assertEquals("name", e.field());
        assertTrue(e.getMessage().startsWith("name = 'tokens; drop': must start with a letter"), e.getMessage());

        e = refused(() -> new MeterDefinition("tokens", "t", Aggregation.SUM, null));
        assertEquals("valueProperty", e.field());
        assertTrue(e.reason().contains("required for SUM"), e.reason());

        for (String bad : List.of("input_tokens", "$", "$.", "$.1a", "$.a[0]", "$..a", "$.a.*", "$.a; DROP TABLE x",
                "$[\"a\"b\"]", "$[\"a\\\"]", "$['a']", "$[\"\"]", "$.a b", "$[\"unclosed")) {
            e = refused(() -> new MeterDefinition("m", "t", Aggregation.SUM, bad));
            assertEquals("valueProperty", e.field(), bad);
            assertEquals(bad, e.value());
        }
        e = refused(() -> new MeterDefinition("m", "t", Aggregation.COUNT, null, Map.of("bad-name", "$.a"), Map.of()));
        assertEquals("groupBy", e.field());
        e = refused(() -> new MeterDefinition("m", "t", Aggregation.COUNT, null, Map.of("model", "model"), Map.of()));
        assertEquals("groupBy.model", e.field());
        e = refused(() -> new MeterDefinition("m", "t", Aggregation.COUNT, null, Map.of(), Map.of("$.region", List.of())));
        assertEquals("filters[$.region]", e.field());
        assertTrue(e.reason().contains("at least one"), e.reason());

        MeterDefinition ok = new MeterDefinition("m.v1_x-y", "llm.request", Aggregation.COUNT, null,
                Map.of("weird", "$[\"key with spaces/and~tilde\"].inner"), Map.of("$.region", List.of("eu")));
        assertEquals("/key with spaces~1and~0tilde/inner", JsonPath.parse("x", ok.groupBy().get("weird")).pointer());
    }

    /** A meter file loads all of its meters, or none when any field is wrong, naming the meter's position. */
    @Test
    void registry_loadsJsonFileStrictlyAllOrNothing() throws Exception {
        Path file = Files.writeString(dir.resolve("meters.json"), """
                {"meters": [
                  {"name": "input_tokens", "eventType": "llm.request", "aggregation": "SUM",
                   "valueProperty": "$.input_tokens", "groupBy": {"model": "$.model"},
                   "filters": {"$.region": ["eu", "us"]}, "description": "billable input"},
                  {"name": "requests", "eventType": "llm.request", "aggregation": "count"}
                ]}
                """);
        MeterRegistry reg = new MeterRegistry();
        assertEquals(2, reg.load(file));
        assertEquals(List.of("input_tokens", "requests"), reg.all().stream().map(MeterDefinition::name).toList());
        assertEquals(Aggregation.COUNT, reg.get("requests").orElseThrow().aggregation());
        assertEquals(List.of("eu", "us"), reg.get("input_tokens").orElseThrow().filters().get("$.region"));

        InvalidMeterException e = assertThrows(InvalidMeterException.class, () -> reg.load(file));
        assertTrue(e.getMessage().contains("already registered"), e.getMessage());

        MeterRegistry fresh = new MeterRegistry();
        e = assertThrows(InvalidMeterException.class, () -> fresh.loadJson("""
                {"meters": [{"name": "a", "eventType": "t", "aggregation": "SUM", "valueProperty": "$.x"},
                            {"name": "b", "eventType": "t", "aggregation": "SUM", "valueProprety": "$.x"}]}
                """, "m.json"));
        assertEquals("m.json: meters[1].valueProprety", e.field());
        assertTrue(fresh.all().isEmpty(), "nothing loaded from a file with an error");

        e = assertThrows(InvalidMeterException.class, () -> fresh.loadJson("""
                {"meters": [{"name": "a", "eventType": "t", "aggregation": "MEDIAN", "valueProperty": "$.x"}]}""", "m.json"));
        assertEquals("m.json: meters[0].aggregation", e.field());
        assertTrue(e.reason().contains("P50"), e.reason());

        e = assertThrows(InvalidMeterException.class, () -> fresh.loadJson("""
                {"meters": [{"name": "a", "eventType": "t", "aggregation": "SUM", "valueProperty": "$.x[0]"}]}""", "m.json"));
        assertEquals("m.json: meters[0].valueProperty", e.field());

        e = assertThrows(InvalidMeterException.class, () -> fresh.loadJson("""
                {"meters": [{"name": "a", "eventType": "t", "aggregation": "COUNT"},
                            {"name": "a", "eventType": "t", "aggregation": "COUNT"}]}""", "m.json"));
        assertTrue(e.reason().contains("repeats the name of meters[0]"), e.reason());

        e = assertThrows(InvalidMeterException.class, () -> fresh.loadJson("{\"meters\": [}", "m.json"));
        assertTrue(e.reason().startsWith("not valid JSON"), e.reason());
    }

    /** Queries are checked for tenant, range, precision, unknown meters and dimensions, and window count. */
    @Test
    void query_refusesMissingTenantBadRangesAndUnknownNames() {
        Instant a = Instant.parse("2026-01-01T00:00:00Z");
        Instant b = Instant.parse("2026-02-01T00:00:00Z");
        assertEquals("tenant", refused(() -> MeterQuery.builder("m", null, a, b).build()).field());
        assertEquals("tenant", refused(() -> MeterQuery.builder("m", "acme/../x", a, b).build()).field());
        assertEquals("to", refused(() -> MeterQuery.builder("m", "acme", b, a).build()).field());
        assertEquals("to", refused(() -> MeterQuery.builder("m", "acme", a, a).build()).field());
        assertEquals("from", refused(() -> MeterQuery.builder("m", "acme", a.plusNanos(1), b).build()).field());
        assertEquals("groupBy", refused(() -> MeterQuery.builder("m", "acme", a, b).groupBy("x", "x").build()).field());

        MeterRegistry reg = new MeterRegistry();
        reg.register(new MeterDefinition("m", "t", Aggregation.COUNT, null, Map.of("model", "$.model"), Map.of()));
        ResolvedQuery ok = new ResolvedQuery(reg.get("m").orElseThrow(), MeterQuery.builder("m", "acme", a, b)
                .groupBy("model").build());
        assertEquals(1, ok.groups.size());
        InvalidMeterException e = refused(() -> new ResolvedQuery(reg.get("m").orElseThrow(),
                MeterQuery.builder("m", "acme", a, b).groupBy("region").build()));
        assertTrue(e.getMessage().contains("groupBy = 'region': meter 'm' has no such dimension; it has [model]"),
                e.getMessage());
        e = refused(() -> new ResolvedQuery(reg.get("m").orElseThrow(), MeterQuery.builder("m", "acme", a,
                Instant.parse("2027-01-01T00:00:00Z")).window(WindowSize.MINUTE).build()));
        assertEquals("window", e.field());
        assertTrue(e.reason().contains("more than 200000 windows"), e.reason());
    }
}
