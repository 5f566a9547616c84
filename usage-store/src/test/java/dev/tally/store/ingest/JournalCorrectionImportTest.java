package dev.tally.store.ingest;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tally.store.RejectReason;
import dev.tally.store.UsageEvent;
import dev.tally.store.correct.Correction;
import dev.tally.store.correct.CorrectionCodec;
import dev.tally.store.correct.CorrectionMetrics;
import dev.tally.store.dlq.DeadLetter;
import dev.tally.store.dlq.DeadLetterQueue;
import dev.tally.store.internal.TestStores;
import dev.tally.store.internal.TieredStore;
import dev.tally.store.journal.Journal;
import dev.tally.store.journal.JournalConfig;
import dev.tally.store.testing.MutableClock;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Objects;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Corrections sent through the journal, imported in journal order against a real store and real journal files. */
class JournalCorrectionImportTest {
    static final Instant NOW = Instant.parse("2026-11-20T12:00:00Z");
    static final Instant T = Instant.parse("2026-11-19T10:00:00Z");
    /** The day of the events in the journal file written before corrections existed. */
    static final Instant OLD_DAY = Instant.parse("2026-11-20T00:00:00Z");

    @TempDir
    Path dir;

    private final MutableClock clock = new MutableClock(NOW);

    private Importer importer(TieredStore store, int batch) {
        return new Importer(store, dir, List.of(), batch, 1 << 20, DeadLetterQueue.open(dir, false), clock);
    }

    private Journal journal() {
        return Journal.open(JournalConfig.builder(dir).clock(clock).maxJournalBytes(16 << 10).build());
    }

    private static UsageEvent event(String tenant, String id, String subject, long tokens) {
        return new UsageEvent(tenant, id, "llm.request", subject, "test", T, "{\"tokens\":" + tokens + "}");
    }

    /**
     * A journal of event batches and random voids, amends and range voids of two tenants sharing
     * ids, across rotations and small import batches, matches the oracle; a second pass and a
     * re-import from the start change nothing.
     */
    @Test
    void runOnce_eventsAndCorrectionsInterleaved_matchOracleAndReimportIsNoOp() throws Exception {
        CorrectionScript script = new CorrectionScript(15L);
        try (Journal journal = journal()) {
            script.write(journal, 20, 10);
        }
        try (TieredStore store = TestStores.open(dir, clock)) {
            Importer importer = importer(store, 37); // batches that split runs of events and corrections
            ImportReport first = importer.runOnce();
            assertEquals(script.events() + script.corrections(), first.records());
            script.assertMatches(store, "after import");
            assertEquals(script.deadLetters(), importer.deadLetters().size(), "dead letters " + importer.deadLetters()
                    .list());
            int stored = store.corrections("acme").size() + store.corrections("globex").size();

            assertEquals(0, importer.runOnce().records(), "second pass");
            store.forgetImportPositions(store.importPositions().keySet());
            ImportReport again = importer.runOnce();
            assertEquals(first.records(), again.records(), "re-import from the start reads everything");
            assertEquals(0, again.stored());
            script.assertMatches(store, "after re-import");
            assertEquals(stored, store.corrections("acme").size() + store.corrections("globex").size());
            assertEquals(script.deadLetters(), importer.deadLetters().size());
            store.sealNow();
            script.assertMatches(store, "sealed");
        }
    }

    /** A correction journaled right after the events it voids and amends, in the same import batch, sees them. */
    @Test
    void runOnce_correctionAfterItsEventsInOneBatch_seesThem() throws Exception {
        try (Journal journal = journal()) {
            journal.append(List.of(event("acme", "a", "key-0", 10), event("acme", "b", "key-0", 20),
                    event("acme", "c", "key-0", 30)));
            journal.appendCorrection(Correction.voidIds("v-1", "acme", List.of("a"), "ops", "test key"));
            journal.appendCorrection(Correction.amend("m-1", event("acme", "b", "key-0", 2), "ops", "wrong count"));
            journal.append(List.of(event("acme", "d", "key-0", 40)));
        }
        try (TieredStore store = TestStores.open(dir, clock)) {
            Importer importer = importer(store, 1_000);
            ImportReport r = importer.runOnce();
            assertEquals(6, r.records());
            assertEquals(4, r.stored());
            assertEquals(0, r.deadLettered());
            var t = store.total("acme", "llm.request", "key-0", "$.tokens", T, T.plusSeconds(1));
            assertEquals(3, t.events());
            assertEquals(72, t.sum().intValue());
            CorrectionMetrics m = store.corrections().metrics();
            assertEquals(1, m.requests(Correction.Kind.VOID, CorrectionMetrics.Outcome.APPLIED));
            assertEquals(1, m.requests(Correction.Kind.AMEND, CorrectionMetrics.Outcome.APPLIED));
            assertEquals(1, m.events(Correction.Kind.VOID));
        }
    }

    /**
     * Corrections the store refuses (closed period without force, malformed, some ids unknown)
     * are dead-lettered with their record's bytes and the reason; the forced one and the valid
     * ids are applied, counted, and the position moves past all of them; a replay of the queue
     * settles what is stored and fails the malformed one again.
     */
    @Test
    void runOnce_refusedCorrections_areDeadLetteredWithTheirBytes() throws Exception {
        Correction closed = Correction.voidIds("closed-1", "acme", List.of("a"), "ops", "late");
        Correction malformed = Correction.voidIds("bad-1", "no such tenant!", List.of("a"), "ops", "typo");
        Correction partial = Correction.voidIds("part-1", "acme", List.of("b", "nope", "other"), "ops", "dispute");
        try (TieredStore store = TestStores.open(dir, clock); Journal journal = journal()) {
            store.closePeriod("acme", YearMonth.of(2026, 11), ZoneOffset.UTC, "finance");
            journal.append(List.of(event("acme", "a", "key-0", 10), event("acme", "b", "key-0", 20),
                    event("globex", "other", "key-0", 5)));
            journal.appendCorrection(closed);
            journal.appendCorrection(malformed);
            journal.appendCorrection(partial.forced());
            journal.appendCorrection(Correction.voidIds("forced-1", "acme", List.of("a"), "ops", "late").forced());
            Importer importer = importer(store, 1_000);
            ImportReport r = importer.runOnce();
            assertEquals(7, r.records());
            assertEquals(3, r.deadLettered());
            List<DeadLetter> letters = importer.deadLetters().list();
            assertEquals(List.of(RejectReason.CLOSED_PERIOD, RejectReason.INVALID_CORRECTION, RejectReason.UNKNOWN_ID),
                    letters.stream().map(DeadLetter::reason).toList());
            assertEquals(CorrectionCodec.toJson(closed), letters.get(0).text(), "the record's bytes");
            assertTrue(letters.get(0).message().contains("acme 2026-11"), letters.get(0).message());
            assertTrue(letters.get(0).source().startsWith(JournalImporter.DEAD_LETTER_PREFIX));
            assertTrue(letters.get(1).message().contains("tenant"), letters.get(1).message());
            String m = letters.get(2).message();
            assertTrue(m.contains("[1] unknown_id") && m.contains("[2] unknown_id") && m.contains("corrected 1 event"), m);

            var t = store.total("acme", "llm.request", "key-0", "$.tokens", T, T.plusSeconds(1));
            assertEquals(0, t.events(), "b voided by the partial correction, a by the forced one");
            assertEquals(1, store.total("globex", "llm.request", "key-0", "$.tokens", T, T.plusSeconds(1)).events(),
                    "another tenant's id is unknown_id, never touched");
            CorrectionMetrics cm = store.corrections().metrics();
            assertEquals(2, cm.requests(Correction.Kind.VOID, CorrectionMetrics.Outcome.APPLIED));
            assertEquals(1, cm.requests(Correction.Kind.VOID, CorrectionMetrics.Outcome.CLOSED_PERIOD));
            assertEquals(2, cm.forced());
            assertEquals(0, importer.runOnce().records(), "the position moved past every correction");

            // Replay applies them again: the partial one was stored (a duplicate: settled); the
            // closed-period one now finds its event voided by the forced one, so it touches no
            // period and is stored with nothing corrected (settled); the malformed one fails again.
            importer.deadLetters().replay(store, clock);
            List<DeadLetter> left = importer.deadLetters().list();
            assertEquals(List.of(RejectReason.INVALID_CORRECTION), left.stream().map(DeadLetter::reason).toList());
            assertEquals(2, left.get(0).attempts());
            assertEquals(3, store.corrections("acme").size());
        }
    }

    /** A journal written before correction records existed (events only) imports exactly as it did. */
    @Test
    void runOnce_journalWrittenBeforeCorrections_replaysUnchanged() throws Exception {
        Path live = Files.createDirectories(dir.resolve("journal")).resolve("journal.wal");
        try (InputStream in = Objects.requireNonNull(getClass().getResourceAsStream(
                "/journal/journal-before-corrections.wal"))) {
            Files.copy(in, live);
        }
        assertTrue(Files.readString(live, UTF_8).lines().count() == 8);
        try (Journal journal = journal(); TieredStore store = TestStores.open(dir, clock)) {
            assertEquals(0, journal.recover().linesCut(), "every record intact");
            Importer importer = importer(store, 3);
            ImportReport r = importer.runOnce();
            assertEquals(8, r.records());
            assertEquals(7, r.stored());
            assertEquals(1, r.deadLettered());
            assertEquals(RejectReason.TOO_LONG, importer.deadLetters().list().get(0).reason());
            var acme = store.total("acme", "llm.request", "key-0", "$.tokens", OLD_DAY, OLD_DAY.plusSeconds(86_400));
            assertEquals(3, acme.events());
            assertEquals(10 + 12 + 14, acme.sum().intValue());
            assertEquals(100, store.total("globex", "llm.request", "key-0", "$.tokens", OLD_DAY, OLD_DAY.plusSeconds(86_400))
                    .sum().intValue());
            journal.appendCorrection(Correction.voidIds("after-1", "acme", List.of("old-0"), "ops", "test"));
            assertEquals(1, importer.runOnce().records());
            assertEquals(2, store.total("acme", "llm.request", "key-0", "$.tokens", OLD_DAY, OLD_DAY.plusSeconds(86_400)).events());
        }
    }
}
