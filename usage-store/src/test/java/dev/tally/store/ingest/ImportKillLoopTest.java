package dev.tally.store.ingest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import dev.tally.store.UsageEvent;
import dev.tally.store.internal.TestStores;
import dev.tally.store.journal.Journal;
import dev.tally.store.journal.JournalConfig;
import dev.tally.store.testing.ChildJvm;
import dev.tally.store.testing.DiskRows;
import dev.tally.store.testing.RunResult;
import dev.tally.store.testing.TestEvents;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Kills an importing child JVM ({@code kill -9}) at seeded points, restarts it, and checks at the
 * end that every journal record is stored exactly once: no loss, no duplicate.
 */
class ImportKillLoopTest {
    static final Instant NOW = Instant.parse("2026-11-20T12:00:00Z");
    /**
     * How long a child may take to open the store and reach its kill point. Idle it takes about a
     * second; on a 2-core machine shared with other builds (load 30 to 40) a JVM start alone can
     * take a minute, which says nothing about exactly-once.
     */
    static final int CHILD_SECONDS = 180;
    /** How long the final child may take to import the rest of the journal (idle: seconds). */
    static final int FINAL_SECONDS = 600;

    @TempDir
    Path dir;

    /** A short kill loop for the default test run. */
    @Test
    void importer_killedRepeatedly_storesEveryRecordExactlyOnce() throws Exception {
        killLoop(8, 42L, "short");
    }

    /** The mid-size kill loop that CI runs after the default run: -Pmid. */
    @Test
    @Tag("mid")
    void importer_killedThirtyTimes_storesEveryRecordExactlyOnce() throws Exception {
        killLoop(30, Long.getLong("tally.seed", 30L), "mid");
    }

    /** The long kill loop: run with -Plong. */
    @Test
    @Tag("long")
    void importer_killedManyTimes_storesEveryRecordExactlyOnce() throws Exception {
        killLoop(100, Long.getLong("tally.seed", 7L), "long");
    }

    private void killLoop(int kills, long seed, String run) throws Exception {
        long started = System.nanoTime();
        // Each round imports 0..3 batches of 700 before its kill: size the journal so that every
        // requested kill lands while there is still something to import.
        int events = Math.max(20_000, kills * 2_100 / 1_000 * 1_000);
        List<UsageEvent> all = TestEvents.batch("acme", "k", events, 20, NOW, Duration.ofDays(3), seed);
        try (Journal journal = Journal.open(JournalConfig.builder(dir).maxJournalBytes(1L << 20).build())) {
            for (int i = 0; i < events; i += 1_000) {
                journal.append(all.subList(i, i + 1_000));
            }
        }
        Random random = new Random(seed);
        Path log = Files.createFile(dir.resolve("children.log"));
        String now = Long.toString(NOW.getEpochSecond());
        int killed = 0;
        for (int k = 0; k < kills; k++) {
            try (ChildJvm child = ChildJvm.start(ImportChild.class, log, dir.toString(), now, "700")) {
                int afterBatches = random.nextInt(4);
                String point = afterBatches == 0 ? "OPEN" : "BATCH " + afterBatches;
                String seen = child.await(point, CHILD_SECONDS);
                if (seen == null) {
                    assertFalse(child.process().isAlive(), "seed " + seed + ": kill " + k + ": the child did not reach "
                            + point + " within " + CHILD_SECONDS + " s; its output: " + child.output() + "; "
                            + tail(log));
                    break; // finished before the chosen point: nothing left to kill
                }
                child.kill();
                killed++;
            }
        }
        assertEquals(kills, killed, "seed " + seed + ": every kill must land while records are still being imported");
        try (ChildJvm last = ChildJvm.start(ImportChild.class, log, dir.toString(), now, "700")) {
            String done = last.await("DONE", FINAL_SECONDS);
            assertNotNull(done, "seed " + seed + ": the final import did not print DONE within " + FINAL_SECONDS
                    + " s (child " + (last.process().isAlive() ? "still running" : "exited with "
                    + last.process().exitValue()) + "); its output: " + last.output() + "; " + tail(log));
        }
        TestStores.open(dir, Clock.fixed(NOW, ZoneOffset.UTC)).close(); // recovery, as on the next start
        Map<String, Integer> counts = DiskRows.scan(dir).counts(); // from the files, not the store's view
        long lost = all.stream().filter(e -> !counts.containsKey("acme/" + e.id())).count();
        long doubled = counts.values().stream().filter(n -> n > 1).count();
        RunResult.write("ImportKillLoopTest-" + run, RunResult.of("ImportKillLoopTest", run, seed, killed, events,
                counts.size(), lost, doubled, 0, Duration.ofNanos(System.nanoTime() - started).toSeconds()));
        assertEquals(events, counts.size(), "seed " + seed + ": every record stored (data kept in " + dir + ")");
        counts.forEach((id, n) -> assertEquals(1, n, "seed " + seed + ": " + id + " stored " + n + " times"));
    }

    /** The end of the children's log, for a failure message (the temporary directory is deleted). */
    static String tail(Path log) throws java.io.IOException {
        String text = Files.readString(log);
        return "children.log ends: " + (text.length() <= 4_000 ? text : "..." + text.substring(text.length() - 4_000));
    }
}
