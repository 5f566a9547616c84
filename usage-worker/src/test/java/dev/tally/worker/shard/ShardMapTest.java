package dev.tally.worker.shard;

import dev.tally.worker.config.ShardMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tally.worker.config.ConfigException;
import dev.tally.worker.config.ConfigLoader;
import dev.tally.worker.config.WorkerConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The shard map is checked when the configuration loads; every refusal names the knob and the bad value. */
class ShardMapTest {
    @TempDir
    Path tmp;

    private WorkerConfig load(String id, String mapText) throws Exception {
        Map<String, String> flags = new LinkedHashMap<>();
        flags.put("data-dir", tmp.resolve("data").toString());
        if (id != null) {
            flags.put("shard.id", id);
        }
        if (mapText != null) {
            Path map = tmp.resolve("shards.properties");
            Files.writeString(map, mapText);
            flags.put("shard.map-file", map.toString());
        }
        return ConfigLoader.load(null, Map.of(), flags);
    }

    private String refused(String id, String mapText) {
        return assertThrows(ConfigException.class, () -> load(id, mapText)).getMessage();
    }

    static final String GOOD = "worker.a = http://10.0.0.1:8080\nworker.b = https://tally-b.internal/\n"
            + "tenant.acme = a\ntenant.globex = b\n";

    /** A valid map loads: owners, addresses without a trailing slash, and who is this worker. */
    @Test
    void load_validMap_givesOwners() throws Exception {
        ShardMap m = load("a", GOOD).shards().orElseThrow();
        assertEquals("a", m.self().id());
        assertTrue(m.ownsHere("acme"));
        assertFalse(m.ownsHere("globex"));
        assertEquals("https://tally-b.internal", m.owner("globex").orElseThrow().url());
        assertTrue(m.owner("initech").isEmpty());
        assertTrue(m.refusal("globex").orElseThrow().contains("owned by worker 'b' at https://tally-b.internal"));
        assertTrue(load(null, null).shards().isEmpty(), "no shard settings: one worker owns every tenant");
    }

    /** A tenant listed twice is refused: two owners would each deduplicate only their own events. */
    @Test
    void load_tenantTwice_refusedNamingTheTenant() {
        String m = refused("a", GOOD + "tenant.acme = b\n");
        assertTrue(m.contains("shard.map-file = ") && m.contains("'tenant.acme' is set twice ('a' and 'b')"), m);
    }

    /** This worker's id must be one of the map's workers. */
    @Test
    void load_ownIdMissing_refused() {
        String m = refused("c", GOOD);
        assertTrue(m.contains("shard.id = 'c' is not a worker of shard.map-file") && m.contains("workers: a, b"), m);
    }

    /** A tenant given to an unlisted worker, a bad address, a bad key or id, and half the settings are refused. */
    @Test
    void load_badEntries_refusedNamingKeyAndValue() {
        assertTrue(refused("a", GOOD + "tenant.initech = z\n").contains("'tenant.initech = z' names a worker the "
                + "file does not list"));
        assertTrue(refused("a", GOOD + "worker.c = ftp://x\n").contains("'worker.c = ftp://x' must be an http://"));
        assertTrue(refused("a", GOOD + "tenants.acme = a\n").contains("unknown key 'tenants.acme'"));
        assertTrue(refused("a", GOOD + "tenant.-bad = a\n").contains("'-bad' is not a valid tenant name"));
        assertTrue(refused("a b", GOOD).contains("shard.id = 'a b' must be 1 to 64 letters"));
        assertTrue(refused("a", null).contains("shard.id and shard.map-file go together"));
        assertTrue(refused(null, GOOD).contains("shard.id and shard.map-file go together"));
        String missing = assertThrows(ConfigException.class, () -> ConfigLoader.load(null, Map.of(), Map.of(
                "shard.id", "a", "shard.map-file", tmp.resolve("nope.properties").toString()))).getMessage();
        assertTrue(missing.contains("nope.properties: the file does not exist") && missing.contains("(from the "
                + "command line)"), missing);
    }
}
