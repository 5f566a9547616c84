package dev.tally.store.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tally.store.testing.SimulatedCrash;
import dev.tally.store.RejectReason;
import dev.tally.store.Totals;
import dev.tally.store.UsageEvent;
import dev.tally.store.correct.Correction;
import dev.tally.store.correct.CorrectionMetrics;
import dev.tally.store.dlq.DeadLetter;
import dev.tally.store.dlq.DeadLetterQueue;
import dev.tally.store.ingest.JournalImporter;
import dev.tally.store.journal.Journal;
import dev.tally.store.journal.JournalConfig;
import dev.tally.store.journal.JournalReader;
import dev.tally.store.testing.MutableClock;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A crash between a journaled correction's commit and the import position moving past it
 * ({@link JournalImporter#CRASH_CORRECTION_APPLIED}) loses nothing and applies nothing twice: the
 * next import applies the correction again as a no-op (a duplicate by correction id) and only then
 * dead-letters its rejected ids, from the rejections stored with it.
 */
class JournalCorrectionCrashTest {
    private static final Instant NOW = Instant.parse("2026-11-20T12:00:00Z");
    private static final Instant T = Instant.parse("2026-11-19T10:00:00Z");

    @TempDir
    Path dir;

    private final MutableClock clock = new MutableClock(NOW);

    private static UsageEvent event(String id, long tokens) {
        return new UsageEvent("acme", id, "llm.request", "key-0", "test", T, "{\"tokens\":" + tokens + "}");
    }

    private JournalImporter importer(TieredStore store, Consumer<String> crash) {
        return new JournalImporter(new JournalReader(dir), DeadLetterQueue.open(dir, false), store, clock, 1_000,
                1 << 20, crash);
    }

    /** Crashing after the first journaled correction committed, then reopening and importing again, applies every correction once and dead-letters its unknown id once. */
    @Test
    void importCorrection_crashAfterCommitBeforePosition_reimportIsNoOp() throws Exception {
        try (Journal journal = Journal.open(JournalConfig.builder(dir).clock(clock).build())) {
            journal.append(List.of(event("a", 10), event("b", 20), event("c", 30)));
            journal.appendCorrection(Correction.voidIds("v-1", "acme", List.of("a", "nope"), "ops", "test key"));
            journal.append(List.of(event("d", 40)));
            journal.appendCorrection(Correction.amend("m-1", event("b", 2), "ops", "wrong count"));
        }
        TieredStore store = TestStores.open(dir, clock);
        assertThrows(SimulatedCrash.class, () -> importer(store, step -> {
            if (step.equals(JournalImporter.CRASH_CORRECTION_APPLIED)) {
                throw new SimulatedCrash(step);
            }
        }).runOnce());
        store.abandon();

        try (TieredStore reopened = TestStores.open(dir, clock)) {
            assertEquals(1, reopened.corrections("acme").size(), "the correction committed before the crash");
            assertTotals(reopened, 2, 50); // a voided; b and c stored with the position at the correction
            assertEquals(0, DeadLetterQueue.open(dir, false).size(), "the crash came before the dead letter");

            JournalImporter importer = importer(reopened, step -> { });
            assertEquals(3, importer.runOnce().records(), "the correction again, d, the amend");
            assertEquals(2, reopened.corrections("acme").size());
            assertTotals(reopened, 3, 30 + 2 + 40);
            CorrectionMetrics m = reopened.corrections().metrics();
            assertEquals(1, m.requests(Correction.Kind.VOID, CorrectionMetrics.Outcome.DUPLICATE));
            List<DeadLetter> letters = DeadLetterQueue.open(dir, false).list();
            assertEquals(1, letters.size(), "the rejected id, from the rejections stored with the correction");
            assertEquals(RejectReason.UNKNOWN_ID, letters.get(0).reason());
            assertTrue(letters.get(0).message().contains("'nope'"), letters.get(0).message());
            assertEquals(0, importer.runOnce().records(), "the position moved past everything");
        }
    }

    private static void assertTotals(TieredStore store, long events, long sum) {
        Totals t = store.total("acme", "llm.request", "key-0", "$.tokens", T, T.plusSeconds(1));
        assertEquals(events, t.events());
        assertEquals(sum, t.sum().longValueExact());
    }
}
