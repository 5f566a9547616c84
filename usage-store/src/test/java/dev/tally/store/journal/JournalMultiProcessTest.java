package dev.tally.store.journal;

import static dev.tally.store.journal.JournalTestSupport.assertExactlyOnce;
import static dev.tally.store.journal.JournalTestSupport.batch;
import static dev.tally.store.journal.JournalTestSupport.intactEvents;
import static dev.tally.store.journal.JournalTestSupport.readAll;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tally.store.UsageEvent;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Several processes and threads append to one journal at once, across rotations. */
class JournalMultiProcessTest {
    private static final long MAX_JOURNAL_BYTES = 48 * 1024;

    @TempDir
    Path dir;

    /** A child JVM appending to the journal, with its output collected. */
    private record Child(Process process, List<String> output) {
        String describe() {
            return "child " + process.pid() + " output: " + String.join("\n", output);
        }
    }

    private Child start(String prefix, int batches, int batchSize, String... extra) throws Exception {
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        ProcessBuilder pb = new ProcessBuilder(java.toString(), "-Xmx128m", "-XX:TieredStopAtLevel=1",
                "-cp", System.getProperty("java.class.path"), JournalChildAppender.class.getName(),
                dir.toString(), prefix, String.valueOf(batches), String.valueOf(batchSize),
                String.valueOf(MAX_JOURNAL_BYTES));
        pb.command().addAll(List.of(extra));
        pb.redirectErrorStream(true);
        Process p = pb.start();
        List<String> out = new CopyOnWriteArrayList<>();
        Thread drain = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = r.readLine()) != null; ) {
                    out.add(line);
                }
            } catch (Exception ignored) {
                // the process ended
            }
        }, "drain-" + prefix);
        drain.setDaemon(true);
        drain.start();
        return new Child(p, out);
    }

    /** Two child JVMs and four threads of this JVM append concurrently; every record is intact, none is lost or torn, and each is imported exactly once. */
    @Test
    @Timeout(60)
    void append_twoChildJvmsAndThreads_everyRecordIntactNoneLost() throws Exception {
        int childBatches = 150;
        int threadBatches = 100;
        int batchSize = 4;
        List<Child> children = List.of(start("p1", childBatches, batchSize), start("p2", childBatches, batchSize));
        List<Process> started = new ArrayList<>();
        children.forEach(c -> started.add(c.process()));
        try (Journal journal = Journal.open(JournalConfig.builder(dir).maxJournalBytes(MAX_JOURNAL_BYTES).build())) {
            for (Child c : children) {
                await().atMost(Duration.ofSeconds(20)).until(() -> c.output().contains("READY") || !c.process().isAlive());
                assertTrue(c.output().contains("READY"), c::describe);
            }
            for (Child c : children) {
                OutputStream in = c.process().getOutputStream();
                in.write("GO\n".getBytes(StandardCharsets.UTF_8));
                in.flush();
            }
            ConcurrentLinkedQueue<Throwable> errors = new ConcurrentLinkedQueue<>();
            List<Thread> threads = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                String prefix = "t" + t;
                Thread th = new Thread(() -> {
                    try {
                        for (int b = 0; b < threadBatches; b++) {
                            journal.append(batch(prefix, b * batchSize, batchSize));
                        }
                    } catch (Throwable e) {
                        errors.add(e);
                    }
                });
                th.start();
                threads.add(th);
            }
            for (Thread th : threads) {
                th.join();
            }
            assertTrue(errors.isEmpty(), () -> errors.toString());
            for (Child c : children) {
                assertTrue(c.process().waitFor(40, TimeUnit.SECONDS), c::describe);
                assertEquals(0, c.process().exitValue(), c::describe);
            }
        } finally {
            started.forEach(Process::destroyForcibly);
        }

        List<String> expected = new ArrayList<>();
        for (String p : List.of("p1", "p2")) {
            for (int i = 0; i < childBatches * batchSize; i++) {
                expected.add(p + "-" + i);
            }
        }
        for (int t = 0; t < 4; t++) {
            for (int i = 0; i < threadBatches * batchSize; i++) {
                expected.add("t" + t + "-" + i);
            }
        }
        List<UsageEvent> events = intactEvents(readAll(dir));
        assertExactlyOnce(events, expected);
        assertTrue(new JournalReader(dir).sources().size() > 3, "rotations happened while several processes wrote");
        // The writers really overlapped: in file order, records of the two children interleave.
        List<String> writers = events.stream().map(e -> e.id().substring(0, 2)).filter(w -> w.startsWith("p")).toList();
        long switches = java.util.stream.IntStream.range(1, writers.size())
                .filter(i -> !writers.get(i).equals(writers.get(i - 1))).count();
        assertTrue(switches >= 2, "child records interleave (" + switches + " switches)");

        // And the importer moves every one of them into the store exactly once.
        java.time.Clock clock = java.time.Clock.fixed(JournalTestSupport.T0.plusSeconds(60), java.time.ZoneOffset.UTC);
        try (dev.tally.store.internal.TieredStore store = dev.tally.store.internal.TestStores.open(dir, clock)) {
            dev.tally.store.ingest.Importer importer = new dev.tally.store.ingest.Importer(store, dir, List.of(), 500,
                    1 << 20, dev.tally.store.dlq.DeadLetterQueue.open(dir, false), clock);
            importer.runOnce();
        }
        // Counted from the segment and part files on disk, not through the store's view.
        dev.tally.store.testing.DiskRows.Scan scan = dev.tally.store.testing.DiskRows.scan(dir);
        assertEquals(expected.size(), scan.counts().size());
        for (String id : expected) {
            assertEquals(1, scan.count("acme/" + id), id);
        }
    }

    /** A child killed (SIGKILL) while appending large batches loses no acknowledged record and leaves no torn record behind. */
    @Test
    @Timeout(60)
    void append_childKilledMidRun_ackedRecordsSurviveNothingTorn() throws Exception {
        int batchSize = 150; // ~30 KB per write, so a kill can land inside one
        Child child = start("k", 100_000, batchSize, "ack");
        try {
            await().atMost(Duration.ofSeconds(20)).until(() -> child.output().contains("READY") || !child.process().isAlive());
            assertTrue(child.output().contains("READY"), child::describe);
            OutputStream in = child.process().getOutputStream();
            in.write("GO\n".getBytes(StandardCharsets.UTF_8));
            in.flush();
            await().atMost(Duration.ofSeconds(30))
                    .until(() -> child.output().stream().filter(l -> l.startsWith("ACK ")).count() >= 40);
            child.process().destroyForcibly();
            assertTrue(child.process().waitFor(20, TimeUnit.SECONDS));
        } finally {
            child.process().destroyForcibly();
        }
        long acked = child.output().stream().filter(l -> l.startsWith("ACK ")).count();

        try (Journal journal = Journal.open(JournalConfig.builder(dir).maxJournalBytes(MAX_JOURNAL_BYTES).build())) {
            journal.append(batch("after", 0, 1));
        }
        List<UsageEvent> events = intactEvents(readAll(dir));
        assertEquals("after-0", events.get(events.size() - 1).id());
        List<UsageEvent> fromChild = events.subList(0, events.size() - 1);
        assertTrue(fromChild.size() >= acked * batchSize, fromChild.size() + " records for " + acked + " acked batches");
        for (int i = 0; i < fromChild.size(); i++) {
            assertEquals(JournalTestSupport.event("k-" + i), fromChild.get(i), "record " + i);
        }
    }
}
