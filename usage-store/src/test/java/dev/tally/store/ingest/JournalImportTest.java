package dev.tally.store.ingest;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tally.store.RejectReason;
import dev.tally.store.UsageEvent;
import dev.tally.store.dlq.DeadLetter;
import dev.tally.store.dlq.DeadLetterQueue;
import dev.tally.store.internal.AppendSeam;
import dev.tally.store.internal.TestStores;
import dev.tally.store.internal.TieredStore;
import dev.tally.store.journal.Journal;
import dev.tally.store.journal.JournalSource;
import dev.tally.store.journal.JournalReader;
import dev.tally.store.journal.JournalConfig;
import dev.tally.store.testing.DiskRows;
import dev.tally.store.testing.MutableClock;
import dev.tally.store.testing.TestEvents;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Journal to store import against a real store and real journal files. */
class JournalImportTest {
    static final Instant NOW = Instant.parse("2026-11-20T12:00:00Z");

    @TempDir
    Path dir;

    private final MutableClock clock = new MutableClock(NOW);

    private Importer importer(TieredStore store) {
        return new Importer(store, dir, List.of(), 500, 1 << 20, DeadLetterQueue.open(dir, false), clock);
    }

    private Journal journal() {
        return Journal.open(JournalConfig.builder(dir).clock(clock).build());
    }

    /** Records written before and after a rotation are imported once; a second pass finds nothing; the archive is reaped only once imported. */
    @Test
    void runOnce_acrossRotation_importsEveryRecordOnceAndReapsOnlyImported() throws Exception {
        List<UsageEvent> first = TestEvents.batch("acme", "a", 1_200, 3, NOW, Duration.ofHours(1), 1);
        List<UsageEvent> second = TestEvents.batch("acme", "b", 700, 3, NOW, Duration.ofHours(1), 2);
        try (TieredStore store = TestStores.open(dir, clock); Journal journal = journal()) {
            journal.append(first);
            Path archive = journal.rotate().orElseThrow();
            assertTrue(journal.reap(p -> false).isEmpty());
            assertEquals(List.of(), journal.reap(importer(store).fullyImported()), "not imported yet");
            journal.append(second);

            Importer importer = importer(store);
            ImportReport p = importer.runOnce();
            assertEquals(1_900, p.stored());
            assertEquals(0, importer.runOnce().records());
            assertEquals(0, importer.health().lagBytes());
            assertEquals(List.of(archive), journal.reap(importer.fullyImported()));
            assertTrue(Files.exists(journal.files().liveFile()));
            assertTrue(Files.exists(journal.files().lockFile()));
        }
        Map<String, Integer> counts = DiskRows.scan(dir).counts(); // from the files, not the store's view
        assertEquals(1_900, counts.size());
        counts.values().forEach(n -> assertEquals(1, n));
    }

    /** Reaping a fully imported and sealed archive also forgets its import position; the live file's stays, and nothing is imported twice. */
    @Test
    void reap_importedArchive_prunesItsPositionOnly() throws Exception {
        try (TieredStore store = TestStores.open(dir, clock); Journal journal = journal()) {
            journal.append(TestEvents.batch("acme", "a", 300, 3, NOW, Duration.ofHours(1), 1));
            Path archive = journal.rotate().orElseThrow();
            journal.append(TestEvents.batch("acme", "b", 200, 3, NOW, Duration.ofHours(1), 2));
            Importer importer = importer(store);
            assertEquals(500, importer.runOnce().stored());
            assertEquals(2, store.importPositions().size());
            String liveKey = JournalImporter.positionKey(new JournalReader(dir).sources().stream()
                    .filter(JournalSource::live).findFirst().orElseThrow());
            assertEquals(List.of(), importer.reap(journal), "imported, not sealed");
            store.sealNow();
            assertEquals(List.of(archive), importer.reap(journal));
            assertEquals(java.util.Set.of(liveKey), store.importPositions().keySet());
            assertEquals(0, importer.runOnce().records());
            assertEquals(500, TestStores.idCounts(store).size());
        }
    }

    /** A fully imported archive stays while its rows are only in the active segment and goes once that segment is sealed. */
    @Test
    void reap_importedNotSealed_keepsArchiveUntilSealed() throws Exception {
        try (TieredStore store = TestStores.open(dir, clock); Journal journal = journal()) {
            journal.append(TestEvents.batch("acme", "a", 100, 3, NOW, Duration.ofHours(1), 1));
            Path archive = journal.rotate().orElseThrow();
            Importer importer = importer(store);
            assertEquals(100, importer.runOnce().stored());
            assertEquals(List.of(), importer.reap(journal), "imported, not sealed");
            assertEquals(List.of(), importer.reap(journal), "still not sealed");
            assertTrue(Files.exists(archive));
            store.sealNow();
            assertEquals(List.of(archive), importer.reap(journal));
        }
    }

    /** After a restart nothing is remembered: an archive imported and sealed before it waits for one more seal. */
    @Test
    void reap_afterRestart_waitsOneMoreSeal() throws Exception {
        Path archive;
        try (TieredStore store = TestStores.open(dir, clock); Journal journal = journal()) {
            journal.append(TestEvents.batch("acme", "a", 100, 3, NOW, Duration.ofHours(1), 1));
            archive = journal.rotate().orElseThrow();
            assertEquals(100, importer(store).runOnce().stored());
        }
        try (TieredStore store = TestStores.open(dir, clock); Journal journal = journal()) {
            Importer importer = importer(store);
            assertEquals(List.of(), importer.reap(journal), "its rows are in the active segment");
            store.append(TestEvents.batch("acme", "z", 1, 3, NOW, Duration.ofHours(1), 9));
            store.sealNow();
            assertEquals(List.of(archive), importer.reap(journal));
        }
    }

    /** A record damaged mid-file is dead-lettered with its offset while the records around it are imported. */
    @Test
    void runOnce_flippedByteMidFile_deadLettersThatRecordOnly() throws Exception {
        try (TieredStore store = TestStores.open(dir, clock); Journal journal = journal()) {
            journal.append(TestEvents.batch("acme", "x", 30, 2, NOW, Duration.ofMinutes(5), 3));
        }
        Path live = dir.resolve("journal/journal.wal");
        List<String> lines = Files.readAllLines(live);
        long offset = 0;
        for (int i = 0; i < 10; i++) {
            offset += lines.get(i).length() + 1;
        }
        try (FileChannel ch = FileChannel.open(live, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap(new byte[] {'#'}), offset + 30);
        }
        try (TieredStore store = TestStores.open(dir, clock)) {
            Importer importer = importer(store);
            ImportReport p = importer.runOnce();
            assertEquals(29, p.stored());
            assertEquals(1, p.deadLettered());
            DeadLetter d = importer.deadLetters().list().get(0);
            assertEquals(RejectReason.CORRUPT_RECORD, d.reason());
            assertEquals(offset, d.offset());
        }
    }

    /** An event the store refuses (too old) is dead-lettered with the store's reason, and the position moves past it. */
    @Test
    void runOnce_storeRefusal_isDeadLettered() throws Exception {
        try (TieredStore store = TestStores.open(dir, clock); Journal journal = journal()) {
            List<UsageEvent> batch = new ArrayList<>(TestEvents.batch("acme", "ok", 5, 1, NOW, Duration.ofMinutes(1), 4));
            batch.add(TestEvents.event("acme", "old", "key-0", NOW.minus(Duration.ofDays(40)), 1));
            journal.append(batch);
            Importer importer = importer(store);
            ImportReport p = importer.runOnce();
            assertEquals(5, p.stored());
            assertEquals(1, p.deadLettered());
            assertEquals(RejectReason.TIME_TOO_OLD, importer.deadLetters().list().get(0).reason());
            assertEquals(0, importer.runOnce().records());
        }
    }

    /** A batch whose commit fails stores nothing and moves no position; the retry imports everything once and dead-letters nothing twice. */
    @Test
    void runOnce_commitFailure_retryIsExactlyOnce() throws Exception {
        AtomicBoolean fail = new AtomicBoolean(true);
        AppendSeam seam = seq -> {
            if (fail.getAndSet(false)) {
                throw new IllegalStateException("disk full (simulated)");
            }
        };
        try (TieredStore store = TestStores.open(dir, clock, seam); Journal journal = journal()) {
            List<UsageEvent> batch = new ArrayList<>(TestEvents.batch("acme", "r", 300, 2, NOW, Duration.ofMinutes(10), 5));
            batch.add(TestEvents.event("acme", "old", "key-0", NOW.minus(Duration.ofDays(40)), 1));
            journal.append(batch);
            Importer importer = importer(store);
            assertThrows(IllegalStateException.class, importer::runOnce);
            assertEquals(1, importer.health().consecutiveFailures());
            assertTrue(store.importPositions().isEmpty());
            assertEquals(1, importer.deadLetters().size(), "dead letter made durable before the failed commit");

            ImportReport p = importer.runOnce();
            assertEquals(300, p.stored());
            assertEquals(0, importer.health().consecutiveFailures());
            assertEquals(1, importer.deadLetters().size());
        }
        DiskRows.Scan scan = DiskRows.scan(dir); // from the files, not the store's view
        assertEquals(300, scan.counts().size());
        assertEquals(List.of(), scan.doubled());
    }
    /**
     * A canonical record and an unmarked one that fail their checksum are both dead-lettered
     * with the line's original bytes, never decoded and trusted.
     */
    @Test
    void runOnce_recordFailingItsChecksum_isDeadLetteredWithOriginalBytes() throws Exception {
        try (TieredStore store = TestStores.open(dir, clock); Journal journal = journal()) {
            journal.append(TestEvents.batch("acme", "c", 4, 1, NOW, Duration.ofMinutes(5), 3));
            // An event the journal cannot validate (bad tenant) is written unmarked.
            journal.append(List.of(TestEvents.event("-bad", "u", "key-0", NOW, 1)));
            // A record after it, so the damaged one is not a possibly torn tail of the live journal.
            journal.append(List.of(TestEvents.event("acme", "after", "key-0", NOW, 1)));
        }
        Path live = dir.resolve("journal/journal.wal");
        List<String> lines = Files.readAllLines(live);
        long canonicalAt = lines.get(0).length() + 1; // the second record
        // Change one digit of a number in each: the JSON stays valid, only the checksum tells.
        byte[] canonicalOriginal = lines.get(1).replace("\"input_tokens\":", "\"input_tokens\":9").getBytes(UTF_8);
        byte[] unmarkedOriginal = lines.get(4).replace("\"input_tokens\":", "\"input_tokens\":9").getBytes(UTF_8);
        assertFalse(lines.get(1).equals(new String(canonicalOriginal, UTF_8)), "the test changes the record");
        lines.set(1, new String(canonicalOriginal, UTF_8));
        lines.set(4, new String(unmarkedOriginal, UTF_8));
        long unmarkedAt = lines.subList(0, 4).stream().mapToLong(l -> l.length() + 1).sum();
        Files.write(live, (String.join("\n", lines) + "\n").getBytes(UTF_8));

        try (TieredStore store = TestStores.open(dir, clock)) {
            Importer importer = importer(store);
            ImportReport p = importer.runOnce();
            assertEquals(4, p.stored());
            assertEquals(2, p.deadLettered());
            List<DeadLetter> letters = importer.deadLetters().list();
            DeadLetter canonical = letters.stream().filter(d -> d.offset() == canonicalAt).findFirst().orElseThrow();
            DeadLetter unmarked = letters.stream().filter(d -> d.offset() == unmarkedAt).findFirst().orElseThrow();
            assertEquals(RejectReason.CORRUPT_RECORD, canonical.reason());
            assertEquals(RejectReason.CORRUPT_RECORD, unmarked.reason());
            assertArrayEquals(canonicalOriginal, canonical.originalBytes());
            assertArrayEquals(unmarkedOriginal, unmarked.originalBytes());
            assertFalse(TestStores.idCounts(store).containsKey("acme/c-1"), "the damaged record is not stored");
        }
    }

    /**
     * An event refused on import (too old by the importer's clock, or breaking a rule the journal
     * could not check) is dead-lettered with the record's JSON exactly as journaled, whole, so a
     * replay can store it.
     */
    @Test
    void runOnce_refusedEvents_keepTheJournaledBytesWhole() throws Exception {
        UsageEvent old = TestEvents.event("acme", "old", "key-0", NOW.minus(Duration.ofDays(29)), 1);
        UsageEvent badTenant = TestEvents.event("bad tenant", "t", "key-0", NOW, 1);
        try (TieredStore store = TestStores.open(dir, clock); Journal journal = journal()) {
            journal.append(List.of(old, badTenant));
        }
        List<String> lines = Files.readAllLines(dir.resolve("journal/journal.wal"));
        clock.advance(Duration.ofDays(10)); // now older than maxEventAge (35 days by default)
        try (TieredStore store = TestStores.open(dir, clock)) {
            Importer importer = importer(store);
            ImportReport p = importer.runOnce();
            assertEquals(0, p.stored());
            assertEquals(2, p.deadLettered());
            List<DeadLetter> letters = importer.deadLetters().list();
            DeadLetter tooOld = letters.stream().filter(d -> d.offset() == 0).findFirst().orElseThrow();
            DeadLetter invalid = letters.stream().filter(d -> d.offset() > 0).findFirst().orElseThrow();
            assertEquals(RejectReason.TIME_TOO_OLD, tooOld.reason());
            assertEquals(RejectReason.INVALID_FIELD, invalid.reason());
            assertArrayEquals(lines.get(0).substring(9).getBytes(UTF_8), tooOld.originalBytes());
            assertArrayEquals(lines.get(1).substring(9).getBytes(UTF_8), invalid.originalBytes());
            assertFalse(tooOld.truncated());
            assertFalse(invalid.truncated());
        }
    }
}
