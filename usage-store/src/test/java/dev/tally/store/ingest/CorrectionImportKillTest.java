package dev.tally.store.ingest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import dev.tally.store.dlq.DeadLetterQueue;
import dev.tally.store.internal.TestStores;
import dev.tally.store.internal.TieredStore;
import dev.tally.store.journal.Journal;
import dev.tally.store.journal.JournalConfig;
import dev.tally.store.testing.ChildJvm;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Random;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Kills an importing child JVM ({@code kill -9}) while it imports a journal of events and
 * corrections interleaved, restarts it, and checks that the store then answers exactly as the
 * oracle: every event once, every correction applied once, each refused one dead-lettered once.
 */
class CorrectionImportKillTest {
    static final Instant NOW = Instant.parse("2026-11-20T12:00:00Z");

    @TempDir
    Path dir;

    /** A short kill loop for the default test run: three kills at seeded batches. */
    @Test
    void importer_killedWhileApplyingCorrections_matchesOracle() throws Exception {
        killLoop(3, 12, Long.getLong("tally.seed", 4L));
    }

    /** The long kill loop: run with -Plong. */
    @Test
    @Tag("long")
    void importer_killedManyTimesWhileApplyingCorrections_matchesOracle() throws Exception {
        killLoop(30, 80, Long.getLong("tally.seed", 11L));
    }

    private void killLoop(int kills, int rounds, long seed) throws Exception {
        CorrectionScript script = new CorrectionScript(seed);
        try (Journal journal = Journal.open(JournalConfig.builder(dir).maxJournalBytes(32 << 10).build())) {
            script.write(journal, rounds, 10);
        }
        Random random = new Random(seed);
        Path log = Files.createFile(dir.resolve("children.log"));
        String now = Long.toString(NOW.getEpochSecond());
        int killed = 0;
        for (int k = 0; k < kills; k++) {
            try (ChildJvm child = ChildJvm.start(ImportChild.class, log, dir.toString(), now, "25")) {
                String point = "BATCH " + (1 + random.nextInt(4));
                String seen = child.await(point, ImportKillLoopTest.CHILD_SECONDS);
                if (seen == null) {
                    assertFalse(child.process().isAlive(), "seed " + seed + ": kill " + k + ": the child did not reach "
                            + point + " within " + ImportKillLoopTest.CHILD_SECONDS + " s; its output: "
                            + child.output() + "; " + ImportKillLoopTest.tail(log));
                    break; // finished before the chosen point: the kill count below fails the test
                }
                child.kill();
                killed++;
            }
        }
        assertEquals(kills, killed, "seed " + seed + ": every kill must land while records are still being imported");
        try (ChildJvm last = ChildJvm.start(ImportChild.class, log, dir.toString(), now, "25")) {
            assertNotNull(last.await("DONE", ImportKillLoopTest.FINAL_SECONDS), "seed " + seed
                    + ": the final import did not print DONE within " + ImportKillLoopTest.FINAL_SECONDS
                    + " s; its output: " + last.output() + "; " + ImportKillLoopTest.tail(log));
        }
        try (TieredStore store = TestStores.open(dir, Clock.fixed(NOW, ZoneOffset.UTC))) {
            script.assertMatches(store, "seed " + seed);
            assertEquals(script.deadLetters(), DeadLetterQueue.open(dir, false).size(), "seed " + seed);
        }
    }
}
