package dev.tally.worker.shard;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tally.store.RejectReason;
import dev.tally.store.UsageEvent;
import dev.tally.store.UsageStore;
import dev.tally.store.correct.Correction;
import dev.tally.store.dlq.DeadLetter;
import dev.tally.store.dlq.DeadLetterQueue;
import dev.tally.store.ingest.ImportReport;
import dev.tally.store.ingest.Importer;
import dev.tally.store.journal.Journal;
import dev.tally.store.journal.JournalConfig;
import dev.tally.worker.config.ShardMap;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The importer of a sharded worker applies journaled corrections of its own tenants only. */
class ShardedCorrectionImportTest {
    static final Instant NOW = Instant.parse("2026-11-20T12:00:00Z");
    static final Instant T = Instant.parse("2026-11-20T10:00:00Z");

    @TempDir
    Path dir;

    /** A journaled correction of a tenant another worker owns is dead-lettered as tenant_not_owned, naming the owner; an owned tenant's is applied. */
    @Test
    void runOnce_foreignTenantsCorrection_deadLetteredAsTenantNotOwned() throws Exception {
        Path map = dir.resolve("shards.properties");
        Files.writeString(map, "worker.eu-1 = http://127.0.0.1:8081\nworker.eu-2 = http://127.0.0.1:8082\n"
                + "tenant.acme = eu-1\ntenant.globex = eu-2\n");
        Path data = Files.createDirectories(dir.resolve("data"));
        Clock clock = Clock.fixed(NOW, ZoneOffset.UTC);
        try (Journal journal = Journal.open(JournalConfig.builder(data).clock(clock).build())) {
            journal.append(List.of(new UsageEvent("acme", "a-1", "llm.request", "key-0", "t", T, "{\"tokens\":3}")));
            journal.appendCorrection(Correction.voidIds("g-1", "globex", List.of("a-1"), "ops", "wrong worker"));
            journal.appendCorrection(Correction.voidIds("a-1", "acme", List.of("a-1"), "ops", "test key"));
        }
        try (UsageStore store = UsageStore.builder(data).clock(clock).build()) {
            UsageStore owned = OwnedTenantsStore.wrap(store, java.util.Optional.of(ShardMap.load(map, "eu-1",
                    "shard.map-file")));
            Importer importer = new Importer(owned, data, List.of(), 100, 1 << 20, DeadLetterQueue.open(data, false),
                    clock);
            ImportReport r = importer.runOnce();
            assertEquals(3, r.records());
            assertEquals(1, r.deadLettered());
            DeadLetter d = importer.deadLetters().list().get(0);
            assertEquals(RejectReason.TENANT_NOT_OWNED, d.reason());
            assertTrue(d.message().contains("eu-2"), d.message());
            assertEquals(0, store.corrections("globex").size());
            assertEquals(1, store.corrections("acme").size());
            assertEquals(0, store.total("acme", "llm.request", "key-0", "$.tokens", T, T.plusSeconds(1)).events());
        }
    }
}
