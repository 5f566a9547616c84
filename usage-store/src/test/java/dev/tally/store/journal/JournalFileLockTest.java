package dev.tally.store.journal;

import static dev.tally.store.journal.JournalTestSupport.batch;
import static dev.tally.store.journal.JournalTestSupport.event;
import static dev.tally.store.journal.JournalTestSupport.readAll;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import dev.tally.store.mutation.Mutation;
import dev.tally.store.testing.ChildJvm;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The journal's file lock keeps writers of different processes apart: another writer that holds
 * it while half of its record is on disk must not have that record cut as a torn tail. The test
 * plays the other writer itself (it takes the lock, writes half a record, then the rest), so the
 * interleaving is exact; without the lock ({@link Mutation#NO_JOURNAL_FILE_LOCK}) the record is lost.
 */
class JournalFileLockTest {
    @TempDir
    Path dir;

    /** A journal in another process waits for the lock while a record is half written, and cuts nothing. */
    @Test
    void open_otherWriterMidRecord_waitsForLockAndCutsNothing() throws Exception {
        JournalFiles files = new JournalFiles(dir);
        byte[] record = RecordFormat.encodeBatch(List.of(event("other-1")), JournalConfig.DEFAULT_MAX_RECORD_BYTES);
        Files.createDirectories(files.journalDir());
        try (ChildJvm child = otherWriterMidRecord(files, record, () -> {
            ChildJvm c = ChildJvm.start(JournalChildAppender.class, dir.resolve("child.log"), dir.toString(), "c",
                    "1", "3", String.valueOf(1 << 20));
            // Deterministic: the kernel lists the child as waiting for the lock this test holds.
            await().atMost(Duration.ofSeconds(120)).until(() -> waitsForLock(c.process().pid()));
            return c;
        })) {
            assertNotNull(child.await("READY", 120), "child output: " + child.output());
            OutputStream in = child.process().getOutputStream();
            in.write("GO\n".getBytes(StandardCharsets.UTF_8));
            in.flush();
            assertNotNull(child.await("DONE", 120), "child output: " + child.output());
            assertEquals(0, child.waitFor(120));
        }
        Map<String, Integer> ids = intactIds();
        assertEquals(Map.of("other-1", 1, "c-0", 1, "c-1", 1, "c-2", 1), ids);
    }

    /** Without the file lock, a journal opened while another writer is mid-record cuts that record: it is lost. */
    @Test
    void open_fileLockRemoved_otherWritersRecordCut() throws Exception {
        JournalFiles files = new JournalFiles(dir);
        byte[] record = RecordFormat.encodeBatch(List.of(event("other-1")), JournalConfig.DEFAULT_MAX_RECORD_BYTES);
        Files.createDirectories(files.journalDir());
        JournalLocks.mutations = Set.of(Mutation.NO_JOURNAL_FILE_LOCK);
        try {
            otherWriterMidRecord(files, record, () -> {
                try (Journal j = Journal.open(JournalConfig.builder(dir).build())) {
                    j.append(batch("c", 0, 3));
                }
                return null;
            });
        } finally {
            JournalLocks.mutations = Set.of();
        }
        Map<String, Integer> ids = intactIds();
        assertEquals(0, ids.getOrDefault("other-1", 0), "the other writer's record was cut and overwritten");
        assertEquals(Map.of("c-0", 1, "c-1", 1, "c-2", 1), ids);
    }

    @FunctionalInterface
    private interface During {
        ChildJvm run() throws Exception;
    }

    /**
     * Plays another writer: takes the file lock, writes the first half of {@code record}, runs
     * {@code during}, writes the second half with {@code APPEND} (as the journal does) and forces,
     * then lets the lock go.
     */
    private ChildJvm otherWriterMidRecord(JournalFiles files, byte[] record, During during) throws Exception {
        int half = record.length / 2;
        ChildJvm result;
        try (FileChannel lockChannel = FileChannel.open(files.lockFile(), StandardOpenOption.CREATE,
                StandardOpenOption.WRITE); FileLock lock = lockChannel.lock()) {
            appendBytes(files.liveFile(), Arrays.copyOfRange(record, 0, half));
            result = during.run();
            appendBytes(files.liveFile(), Arrays.copyOfRange(record, half, record.length));
        }
        return result;
    }

    private static void appendBytes(Path file, byte[] bytes) throws Exception {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.APPEND)) {
            ByteBuffer b = ByteBuffer.wrap(bytes);
            while (b.hasRemaining()) {
                ch.write(b);
            }
            ch.force(false);
        }
    }

    private Map<String, Integer> intactIds() {
        Map<String, Integer> ids = new HashMap<>();
        for (JournalRecord r : readAll(dir)) {
            if (r instanceof JournalRecord.Event e) {
                ids.merge(e.event().id(), 1, Integer::sum);
            }
        }
        return ids;
    }

    /** Whether /proc/locks lists {@code pid} as blocked on a lock (Linux: a {@code ->} line). */
    private static boolean waitsForLock(long pid) throws Exception {
        for (String line : Files.readAllLines(Path.of("/proc/locks"))) {
            String[] f = line.trim().split("\\s+");
            if (f.length > 5 && f[1].equals("->") && f[5].equals(String.valueOf(pid))) {
                return true;
            }
        }
        return false;
    }
}
