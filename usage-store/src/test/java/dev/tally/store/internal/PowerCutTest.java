package dev.tally.store.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.tally.store.RejectReason;
import dev.tally.store.UsageEvent;
import dev.tally.store.dlq.DeadLetter;
import dev.tally.store.dlq.DeadLetterQueue;
import dev.tally.store.journal.Journal;
import dev.tally.store.journal.JournalConfig;
import dev.tally.store.journal.JournalReadResult;
import dev.tally.store.journal.JournalReader;
import dev.tally.store.journal.JournalRecord;
import dev.tally.store.journal.JournalSource;
import dev.tally.store.testing.DiskRows;
import dev.tally.store.testing.MutableClock;
import dev.tally.store.testing.PowerLossFileIo;
import dev.tally.store.testing.TestEvents;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Power cuts at every step of the files Tally writes itself. Each workload runs once to count its
 * file-system steps, then once per step with the power cut at that step (every other run tearing
 * the last page of what was not forced); after each cut the files are put into the state the
 * device had ({@link PowerLossFileIo#crash}), the component is opened again with the real file
 * system, and everything acknowledged before the cut must be there, exactly once. These tests fail
 * when a {@code force()} or a directory fsync on these paths is removed.
 */
class PowerCutTest {
    private static final Instant T0 = Instant.parse("2026-11-20T10:00:00Z");

    @TempDir
    Path tmp;

    /** What a workload acknowledged before the power went out, and what it has open. */
    private static final class Run {
        final List<String> acked = new ArrayList<>();
        final Set<String> attempted = new HashSet<>();
        final List<AutoCloseable> open = new ArrayList<>();
    }

    @FunctionalInterface
    private interface Workload {
        void run(Path dir, Run run) throws Exception;
    }

    @FunctionalInterface
    private interface Check {
        void verify(Path dir, Run run, String context) throws Exception;
    }

    @FunctionalInterface
    private interface Setup {
        void prepare(Path dir, Run run) throws Exception;
    }

    /** Every journal batch acknowledged before a power cut during appends and rotations is read back once. */
    @Test
    void journalAppendAndRotate_powerCutAtEveryStep_noAckedRecordLost() throws Exception {
        int steps = cutAtEveryStep("journal", (d, r) -> { }, PowerCutTest::journalWorkload, PowerCutTest::checkJournal);
        assertTrue(steps >= 20, "the workload should take many steps, took " + steps);
    }

    /** Every dead letter whose add() returned before a power cut is in the queue after recovery. */
    @Test
    void deadLetterAdd_powerCutAtEveryStep_noAckedEntryLost() throws Exception {
        int steps = cutAtEveryStep("dlq", (d, r) -> { }, PowerCutTest::dlqWorkload, PowerCutTest::checkDlq);
        assertTrue(steps >= 10, "the workload should take many steps, took " + steps);
    }

    /**
     * A power cut at any step of two seals (part renames, manifest swap, segment deletion) leaves a
     * store that opens with every event stored exactly once, counted from the files on disk.
     */
    @Test
    void sealAndManifestSwap_powerCutAtEveryStep_everyEventOnceOnDisk() throws Exception {
        int steps = cutAtEveryStep("seal", PowerCutTest::storeSetup, PowerCutTest::sealWorkload,
                PowerCutTest::checkStore);
        assertTrue(steps >= 8, "the workload should take many steps, took " + steps);
    }

    /**
     * Runs the workload without a cut, then with the power cut at each of its steps; returns the
     * step count. The setup runs once, with the real file system, and each run starts from a copy.
     */
    private int cutAtEveryStep(String name, Setup setup, Workload workload, Check check) throws Exception {
        Path template = tmp.resolve(name + "-template");
        Files.createDirectories(template);
        Run prepared = new Run();
        setup.prepare(template, prepared);
        int total = runOnce(name, Long.MAX_VALUE, template, prepared, workload, check);
        for (int cut = 1; cut <= total; cut++) {
            runOnce(name, cut, template, prepared, workload, check);
        }
        return total;
    }

    private int runOnce(String name, long cutAt, Path template, Run prepared, Workload workload, Check check)
            throws Exception {
        Path dir = tmp.resolve(name + "-" + (cutAt == Long.MAX_VALUE ? "none" : cutAt));
        copyTree(template, dir);
        Run run = new Run();
        run.acked.addAll(prepared.acked);
        run.attempted.addAll(prepared.attempted);
        boolean tear = cutAt % 2 == 0;
        PowerLossFileIo sim = PowerLossFileIo.install(dir, cutAt, cutAt);
        try {
            workload.run(dir, run);
        } catch (Exception | AssertionError e) {
            if (!sim.isCut()) {
                sim.uninstall();
                throw new AssertionError(name + ": failed without a power cut", e);
            }
        } finally {
            for (int i = run.open.size() - 1; i >= 0; i--) {
                try {
                    run.open.get(i).close(); // releases descriptors and locks; writes fail, the power is off
                } catch (Exception ignored) {
                    // expected after the cut
                }
            }
            sim.crash(tear);
        }
        String context = name + ", power cut at step " + (cutAt == Long.MAX_VALUE ? "none" : cutAt) + " of "
                + sim.stepLog() + (tear ? ", last page torn" : "");
        check.verify(dir, run, context);
        return sim.steps();
    }

    private static void copyTree(Path from, Path to) throws java.io.IOException {
        try (var s = Files.walk(from)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                Path t = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(t);
                } else {
                    Files.copy(p, t);
                }
            }
        }
    }

    // ---------------------------------------------------------------- journal

    private static JournalConfig journalConfig(Path dir) {
        return JournalConfig.builder(dir).maxJournalBytes(2048).clock(Clock.fixed(T0, ZoneOffset.UTC)).build();
    }

    private static UsageEvent journalEvent(String id) {
        return TestEvents.event("acme", id, "key-1", T0, Math.abs(id.hashCode()) % 1000);
    }

    private static void journalWorkload(Path dir, Run run) throws Exception {
        Journal j = Journal.open(journalConfig(dir));
        run.open.add(j);
        for (int b = 0; b < 8; b++) {
            List<UsageEvent> batch = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                batch.add(journalEvent("b" + b + "-" + i));
                run.attempted.add("b" + b + "-" + i);
            }
            j.append(batch);
            batch.forEach(e -> run.acked.add(e.id()));
            if (b == 3) {
                j.rotate();
            }
        }
    }

    private static void checkJournal(Path dir, Run run, String context) throws Exception {
        Journal.open(journalConfig(dir)).close(); // recovery boots
        Map<String, Integer> seen = journalIds(dir, context);
        for (String id : run.acked) {
            assertEquals(1, seen.getOrDefault(id, 0), context + ": acknowledged record " + id);
        }
        for (String id : seen.keySet()) {
            assertTrue(run.attempted.contains(id), context + ": record never written: " + id);
        }
        try (Journal j = Journal.open(journalConfig(dir))) {
            j.append(List.of(journalEvent("after")));
        }
        assertEquals(1, journalIds(dir, context).getOrDefault("after", 0), context + ": append after recovery");
    }

    private static Map<String, Integer> journalIds(Path dir, String context) {
        JournalReader reader = new JournalReader(dir);
        Map<String, Integer> seen = new HashMap<>();
        for (JournalSource s : reader.sources()) {
            long offset = 0;
            while (true) {
                JournalReadResult r = reader.read(s.path(), offset, 1000);
                for (JournalRecord rec : r.records()) {
                    if (rec instanceof JournalRecord.Event e) {
                        seen.merge(e.event().id(), 1, Integer::sum);
                    } else {
                        fail(context + ": damaged record after recovery: " + rec);
                    }
                }
                offset = r.nextOffset();
                if (r.atEnd()) {
                    break;
                }
            }
        }
        return seen;
    }

    // ---------------------------------------------------------------- dead letters

    private static DeadLetter deadLetter(int i) {
        byte[] b = ("{broken line " + i).getBytes(StandardCharsets.UTF_8);
        return DeadLetter.of("spool:in/a.jsonl", 100L * i, RejectReason.INVALID_JSON, "refused", b, b.length, T0);
    }

    private static void dlqWorkload(Path dir, Run run) {
        DeadLetterQueue q = DeadLetterQueue.open(dir, false);
        for (int i = 0; i < 6; i++) {
            List<DeadLetter> batch = i % 2 == 0 ? List.of(deadLetter(i)) : List.of(deadLetter(i), deadLetter(i + 100));
            batch.forEach(e -> run.attempted.add(e.key()));
            q.add(batch);
            batch.forEach(e -> run.acked.add(e.key()));
        }
    }

    private static void checkDlq(Path dir, Run run, String context) {
        DeadLetterQueue q = DeadLetterQueue.open(dir, false); // recovery boots
        Map<String, Integer> seen = new HashMap<>();
        for (DeadLetter e : q.list()) {
            seen.merge(e.key(), 1, Integer::sum);
        }
        for (String key : run.acked) {
            assertEquals(1, seen.getOrDefault(key, 0), context + ": acknowledged dead letter " + key);
        }
        assertEquals(1, q.add(List.of(deadLetter(999))), context + ": add after recovery");
    }

    // ---------------------------------------------------------------- store: seal and manifest swap

    private static MutableClock storeClock() {
        return new MutableClock(T0);
    }

    private static TieredStore openStore(Path dir) {
        return TieredStore.open(TestStores.config(dir, storeClock(), 64L << 20), Runnable::run,
                TieredStore.DEFAULT_HOOKS);
    }

    private static List<UsageEvent> storeBatch(String prefix, long seed) {
        return TestEvents.batch("acme", prefix, 40, 3, T0, Duration.ofHours(6), seed); // one UTC day: two parts
    }

    /** Stores one batch before the simulation starts: a store with a manifest and an active segment. */
    private static void storeSetup(Path dir, Run run) {
        try (TieredStore s = openStore(dir)) {
            List<UsageEvent> a = storeBatch("a", 1);
            s.append(a);
            a.forEach(e -> run.acked.add("acme/" + e.id()));
        }
    }

    /** One more batch, then a seal: rollover, part renames, manifest swap, segment deletion. */
    private static void sealWorkload(Path dir, Run run) {
        TieredStore s = openStore(dir);
        run.open.add(s);
        List<UsageEvent> b = storeBatch("b", 2);
        s.append(b);
        b.forEach(e -> run.acked.add("acme/" + e.id()));
        s.sealNow();
    }

    private static void checkStore(Path dir, Run run, String context) {
        openStore(dir).close(); // recovery boots: pending segments sealed, unpublished parts deleted
        DiskRows.Scan scan = DiskRows.scan(dir);
        for (String key : run.acked) {
            assertEquals(1, scan.count(key), context + ": acknowledged event " + key + " in " + scan.files());
        }
        assertEquals(List.of(), scan.doubled(), context + ": stored twice");
        assertEquals(run.acked.size(), scan.counts().size(), context + ": events stored that were never sent");
    }
}
