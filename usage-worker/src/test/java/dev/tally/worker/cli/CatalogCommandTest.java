package dev.tally.worker.cli;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tally.store.UsageEvent;
import dev.tally.store.UsageStore;
import dev.tally.worker.config.ConfigLoader;
import dev.tally.worker.daemon.Worker;
import dev.tally.worker.testing.Events;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code usage-worker catalog} and the worker's catalog registration on the SQLite catalog. */
class CatalogCommandTest {
    @TempDir
    Path tmp;

    /**
     * Before any worker ran, the catalog lacks the sealed parts (exit 1, each named); a worker with
     * the default settings (the SQLite catalog in its data directory) registers them in its first
     * maintenance pass, after which the check passes (exit 0).
     */
    @Test
    void catalog_beforeAndAfterWorkerSync_reportsMissingThenConsistent() throws Exception {
        Path data = tmp.resolve("data");
        Instant now = Instant.now().truncatedTo(ChronoUnit.SECONDS);
        try (UsageStore store = UsageStore.builder(data).build()) {
            List<UsageEvent> events = new ArrayList<>();
            for (int i = 0; i < 20; i++) {
                events.add(Events.event("acme", "e-" + i, "key-" + (i % 2), now.minus(Duration.ofDays(2)).plusSeconds(i),
                        10));
            }
            assertEquals(20, store.append(events).accepted());
            store.sealNow();
        }
        CommandsTest.Run before = CommandsTest.cli("catalog", "--data-dir", data.toString(), "--set",
                "catalog.uri=sqlite");
        assertEquals(ExitCodes.CHANGES_FOUND, before.code(), before.out() + before.err());
        assertTrue(before.out().contains("missing from the catalog: file:"), before.out());

        Worker worker = Worker.open(ConfigLoader.load(null, Map.of(), Map.of("data-dir", data.toString(),
                "http.port", "-1", "log.level", "warn")), Clock.systemUTC());
        try {
            worker.start();
            await().atMost(Duration.ofMinutes(2)).until(() -> worker.maintenanceHealth().passes() >= 1);
        } finally {
            worker.shutdown(Duration.ofSeconds(30));
        }

        CommandsTest.Run after = CommandsTest.cli("catalog", "--data-dir", data.toString(), "--set",
                "catalog.uri=sqlite", "--files");
        assertEquals(ExitCodes.OK, after.code(), after.out() + after.err());
        assertTrue(after.out().contains("check usage_events: consistent"), after.out());
        assertTrue(after.out().contains("check usage_rollups_hourly: consistent"), after.out());
        assertTrue(after.out().contains("file archive/day="), after.out());
    }

    /** With catalog.uri=off the command refuses with the configuration exit code and names the key. */
    @Test
    void catalog_uriOff_exitsWithConfigError() {
        CommandsTest.Run run = CommandsTest.cli("catalog", "--data-dir", tmp.resolve("data").toString(), "--set",
                "catalog.uri=off");
        assertEquals(ExitCodes.CONFIG, run.code(), run.out() + run.err());
        assertTrue(run.err().contains("catalog.uri is off"), run.err());
    }
}
