package dev.tally.store.journal;

import static dev.tally.store.journal.JournalTestSupport.assertExactlyOnce;
import static dev.tally.store.journal.JournalTestSupport.batch;
import static dev.tally.store.journal.JournalTestSupport.event;
import static dev.tally.store.journal.JournalTestSupport.intactEvents;
import static dev.tally.store.journal.JournalTestSupport.readAll;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tally.store.EventRejectedException;
import dev.tally.store.RejectReason;
import dev.tally.store.StoreException;
import dev.tally.store.UsageEvent;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.locks.ReentrantLock;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Threads of one JVM appending at once: group commit, exactly-once records, refusals, fsync policies. */
class JournalConcurrencyTest {
    @TempDir
    Path dir;

    /** Runs {@code threads} appenders, each appending {@code batches} batches of {@code size}; returns the expected ids. */
    private static List<String> hammer(Journal j, int threads, int batches, int size, String tag) throws Exception {
        ConcurrentLinkedQueue<Throwable> errors = new ConcurrentLinkedQueue<>();
        List<Thread> ts = new ArrayList<>();
        List<String> expected = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            String prefix = tag + t;
            for (int i = 0; i < batches * size; i++) {
                expected.add(prefix + "-" + i);
            }
            Thread th = new Thread(() -> {
                try {
                    for (int b = 0; b < batches; b++) {
                        j.append(batch(prefix, b * size, size));
                    }
                } catch (Throwable e) {
                    errors.add(e);
                }
            });
            ts.add(th);
        }
        ts.forEach(Thread::start);
        for (Thread th : ts) {
            th.join();
        }
        assertTrue(errors.isEmpty(), () -> "append failed: " + errors);
        return expected;
    }

    private interface Body {
        void run() throws Exception;
    }

    private static void run(Body body) {
        try {
            body.run();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /** Many threads appending concurrently leave every record intact exactly once. */
    @Test
    @Timeout(60)
    void append_manyThreads_everyRecordIntactExactlyOnce() throws Exception {
        List<String> expected;
        JournalStats stats;
        try (Journal j = Journal.open(JournalConfig.builder(dir).maxJournalBytes(256 * 1024).build())) {
            expected = hammer(j, 12, 60, 7, "t");
            stats = j.stats();
        }
        assertExactlyOnce(intactEvents(readAll(dir)), expected);
        assertEquals(12 * 60, stats.appends());
        assertEquals(expected.size(), stats.events());
        assertTrue(stats.groups() <= stats.appends());
        assertTrue(stats.rotations() > 0, "the run crosses maxJournalBytes");
    }

    /** Appenders queued while the lock is busy are written by one leader in one group with one fsync. */
    @Test
    @Timeout(30)
    void append_appendersQueuedBehindBusyLock_shareOneWriteAndFsync() throws Exception {
        List<String> expected = new ArrayList<>(List.of("warm-0"));
        try (Journal j = Journal.open(JournalConfig.builder(dir).build())) {
            j.append(batch("warm", 0, 1));
            JournalStats before = j.stats();
            ReentrantLock lock = j.jvmLockForTest();
            List<Thread> ts = new ArrayList<>();
            ConcurrentLinkedQueue<Throwable> errors = new ConcurrentLinkedQueue<>();
            lock.lock();
            try {
                for (int t = 0; t < 8; t++) {
                    String prefix = "g" + t;
                    expected.add(prefix + "-0");
                    expected.add(prefix + "-1");
                    Thread th = new Thread(() -> {
                        try {
                            j.append(batch(prefix, 0, 2));
                        } catch (Throwable e) {
                            errors.add(e);
                        }
                    });
                    th.start();
                    ts.add(th);
                }
                await().atMost(Duration.ofSeconds(10)).until(() -> j.queuedForTest() == 8);
            } finally {
                lock.unlock();
            }
            for (Thread th : ts) {
                th.join();
            }
            assertTrue(errors.isEmpty(), () -> errors.toString());
            JournalStats after = j.stats();
            assertEquals(8, after.appends() - before.appends());
            assertEquals(1, after.groups() - before.groups(), "one write group");
            assertEquals(1, after.syncs() - before.syncs(), "one fsync");
        }
        assertExactlyOnce(intactEvents(readAll(dir)), expected);
    }

    /** Two journal instances on one directory in one JVM share the file lock without OverlappingFileLockException. */
    @Test
    @Timeout(60)
    void append_twoInstancesInOneJvm_noLockClashAndRecordsIntact() throws Exception {
        List<String> expected = new ArrayList<>();
        Journal b = Journal.open(JournalConfig.builder(dir).maxJournalBytes(64 * 1024).build());
        try {
            Journal a = Journal.open(JournalConfig.builder(dir).maxJournalBytes(64 * 1024).build());
            try {
                List<String> fromA = new ArrayList<>();
                List<String> fromB = new ArrayList<>();
                Thread ta = new Thread(() -> run(() -> fromA.addAll(hammer(a, 3, 40, 3, "a"))));
                Thread tb = new Thread(() -> run(() -> fromB.addAll(hammer(b, 3, 40, 3, "b"))));
                ta.start();
                tb.start();
                ta.join();
                tb.join();
                expected.addAll(fromA);
                expected.addAll(fromB);
            } finally {
                a.close();
            }
            // Closing one instance must not drop the lock the other shares.
            b.append(batch("after", 0, 2));
            expected.addAll(List.of("after-0", "after-1"));
        } finally {
            b.close();
        }
        assertEquals(2 * 3 * 40 * 3 + 2, expected.size());
        assertExactlyOnce(intactEvents(readAll(dir)), expected);
    }

    /** A lock file deleted while the journal is open is recreated by path, so writers keep locking the same file. */
    @Test
    void append_lockFileDeletedWhileOpen_relockedByPath() throws Exception {
        Path lockFile = dir.resolve("journal").resolve(JournalFiles.LOCK_FILE);
        try (Journal j = Journal.open(JournalConfig.builder(dir).build())) {
            j.append(batch("d", 0, 1));
            Files.delete(lockFile);
            j.append(batch("d", 1, 1));
            assertTrue(Files.exists(lockFile));
            try (Journal other = Journal.open(JournalConfig.builder(dir).build())) {
                other.append(batch("d", 2, 1));
            }
        }
        assertExactlyOnce(intactEvents(readAll(dir)), List.of("d-0", "d-1", "d-2"));
    }

    /** A batch with an event whose JSON does not parse back is refused whole, naming the event, and nothing is written. */
    @Test
    void append_eventWithInvalidDataJson_rejectsWholeBatchWritesNothing() throws Exception {
        try (Journal j = Journal.open(JournalConfig.builder(dir).build())) {
            UsageEvent bad = new UsageEvent("acme", "bad-1", "llm.request", "k", null, JournalTestSupport.T0,
                    "{\"tokens\": 12");
            EventRejectedException e = assertThrows(EventRejectedException.class,
                    () -> j.append(List.of(event("ok-0"), bad)));
            assertTrue(e.getMessage().contains("event #1"), e.getMessage());
            assertTrue(e.getMessage().contains("bad-1"), e.getMessage());
            assertEquals(0, j.stats().appends());
        }
        assertTrue(readAll(dir).isEmpty());
    }

    /** An event whose record would pass maxRecordBytes is refused with LINE_TOO_LONG. */
    @Test
    void append_recordLongerThanMax_rejectedAsLineTooLong() throws Exception {
        try (Journal j = Journal.open(JournalConfig.builder(dir).maxRecordBytes(512).build())) {
            UsageEvent big = new UsageEvent("acme", "big", "llm.request", "k", null, JournalTestSupport.T0,
                    "{\"note\":\"" + "x".repeat(600) + "\"}");
            EventRejectedException e = assertThrows(EventRejectedException.class, () -> j.append(List.of(big)));
            assertEquals(RejectReason.LINE_TOO_LONG, e.reason());
        }
    }

    /** Raw data JSON spanning several lines is written compactly as one record line. */
    @Test
    void append_dataWithRawNewlines_writtenAsOneLine() throws Exception {
        UsageEvent multi = new UsageEvent("acme", "nl-1", "llm.request", "k", null, JournalTestSupport.T0,
                "{\n  \"tokens\": 12,\n  \"note\": \"a\\nb\"\n}");
        try (Journal j = Journal.open(JournalConfig.builder(dir).build())) {
            j.append(List.of(multi));
        }
        String text = Files.readString(dir.resolve("journal/journal.wal"), StandardCharsets.UTF_8);
        assertEquals(1, text.chars().filter(c -> c == '\n').count());
        List<UsageEvent> read = intactEvents(readAll(dir));
        assertEquals(1, read.size());
        assertEquals("{\"tokens\":12,\"note\":\"a\\nb\"}", read.get(0).data());
    }

    /** With the interval policy an append returns after the write and a background fsync follows. */
    @Test
    @Timeout(30)
    void append_intervalPolicy_acksThenSyncsInBackground() throws Exception {
        try (Journal j = Journal.open(JournalConfig.builder(dir)
                .fsyncPolicy(FsyncPolicy.interval(Duration.ofMillis(20))).build())) {
            j.append(batch("i", 0, 5));
            assertEquals(1, j.stats().appends());
            await().atMost(Duration.ofSeconds(10)).until(() -> j.stats().syncs() >= 1);
        }
        assertExactlyOnce(intactEvents(readAll(dir)), batch("i", 0, 5).stream().map(UsageEvent::id).toList());
    }

    /** A closed journal refuses appends; close is idempotent; an empty batch is a no-op. */
    @Test
    void append_afterClose_refused() throws Exception {
        Journal j = Journal.open(JournalConfig.builder(dir).build());
        j.append(List.of());
        assertFalse(Files.exists(dir.resolve("journal/journal.wal")), "an empty batch writes nothing");
        j.close();
        j.close();
        assertThrows(StoreException.class, () -> j.append(batch("c", 0, 1)));
    }
}
