package dev.tally.store.metrics;

import static dev.tally.store.testing.TestEvents.event;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import dev.tally.store.UsageStore;
import dev.tally.store.journal.Journal;
import dev.tally.store.journal.JournalConfig;
import dev.tally.store.testing.MutableClock;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TallyMetricsTest {
    static final Instant NOW = Instant.parse("2026-11-20T12:00:00Z");

    @TempDir
    Path dir;

    /** An application that embeds the store sees Tally's counters and gauges in its own Micrometer registry. */
    @Test
    void bindTo_embeddingApplicationsRegistry_showsStoreAndJournalMetrics() throws Exception {
        MutableClock clock = new MutableClock(NOW);
        MeterRegistry registry = new SimpleMeterRegistry(); // the application's registry
        try (UsageStore store = UsageStore.builder(dir.resolve("store")).clock(clock).build();
                Journal journal = Journal.open(JournalConfig.builder(dir.resolve("producer")).clock(clock).build())) {
            TallyMetrics.builder(store).journal(journal).snapshotTtl(Duration.ZERO).build().bindTo(registry);

            store.append(List.of(event("acme", "a", "k", NOW.minusSeconds(60), 5),
                    event("acme", "b", "k", NOW.minusSeconds(30), 7)));
            store.append(List.of(event("acme", "a", "k", NOW.minusSeconds(60), 5))); // a duplicate
            journal.append(List.of(event("acme", "c", "k", NOW.minusSeconds(10), 1)));

            assertEquals(2, registry.get("tally.events.accepted").functionCounter().count());
            assertEquals(1, registry.get("tally.events.duplicate").functionCounter().count());
            assertEquals(0, registry.get("tally.events.rejected").tags("stage", "import", "reason", "time_too_old")
                    .functionCounter().count());
            assertEquals(2, registry.get("tally.segment.rows").tag("tier", "active").gauge().value());
            assertEquals(1, registry.get("tally.segments").tag("tier", "active").gauge().value());
            assertEquals(1, registry.get("tally.journal.appends").functionCounter().count());
            assertNotNull(registry.find("tally.seal.seconds").functionCounter());
        }
    }
}
