package dev.tally.store.journal;

import static dev.tally.store.journal.JournalTestSupport.assertExactlyOnce;
import static dev.tally.store.journal.JournalTestSupport.batch;
import static dev.tally.store.journal.JournalTestSupport.intactEvents;
import static dev.tally.store.journal.JournalTestSupport.readAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tally.store.UsageEvent;
import dev.tally.store.testing.MutableClock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Rotation by size, age and request; unique archive names; reaping only what is fully imported. */
class JournalRotationTest {
    @TempDir
    Path dir;

    private Path journalDir() {
        return dir.resolve(JournalFiles.JOURNAL_DIR);
    }

    private List<String> archiveNames() throws Exception {
        try (Stream<Path> s = Files.list(journalDir())) {
            return s.map(p -> p.getFileName().toString()).filter(JournalFiles::isArchiveName).sorted().toList();
        }
    }

    private static List<String> ids(String prefix, int n) {
        return batch(prefix, 0, n).stream().map(UsageEvent::id).toList();
    }

    /** Rotations at one frozen clock instant still get unique, increasing, well-formed names. */
    @Test
    void rotate_sameClockInstant_uniqueIncreasingNames() throws Exception {
        MutableClock clock = new MutableClock(Instant.parse("2026-11-20T10:00:00Z"));
        List<String> names = new ArrayList<>();
        try (Journal j = Journal.open(JournalConfig.builder(dir).clock(clock).build())) {
            for (int i = 0; i < 5; i++) {
                j.append(batch("s" + i, 0, 2));
                names.add(j.rotate().orElseThrow().getFileName().toString());
            }
        }
        assertEquals(5, new HashSet<>(names).size());
        assertEquals(names.stream().sorted().toList(), names, "names sort in rotation order");
        long base = Instant.parse("2026-11-20T10:00:00Z").getEpochSecond() * 1_000_000_000L;
        assertEquals(JournalFiles.archiveName(base), names.get(0));
        assertEquals(JournalFiles.archiveName(base + 4), names.get(4));
        for (String n : names) {
            assertTrue(n.matches("journal-\\d{19}\\.wal"), n);
        }
        assertFalse(Files.exists(journalDir().resolve(JournalFiles.LIVE_FILE)));
        List<String> expected = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            expected.addAll(ids("s" + i, 2));
        }
        assertExactlyOnce(intactEvents(readAll(dir)), expected);
    }

    /** Once every archive is reaped and the clock steps back, a new archive still never reuses an old name. */
    @Test
    void rotate_afterReapAndClockStepBack_neverReusesName() throws Exception {
        MutableClock clock = new MutableClock(Instant.parse("2026-11-20T10:00:00Z"));
        try (Journal j = Journal.open(JournalConfig.builder(dir).clock(clock).build())) {
            j.append(batch("x", 0, 1));
            Path first = j.rotate().orElseThrow();
            assertEquals(List.of(first), j.reap(p -> true));
            clock.set(Instant.parse("2026-11-19T10:00:00Z"));
            j.append(batch("y", 0, 1));
            Path second = j.rotate().orElseThrow();
            assertTrue(second.getFileName().toString().compareTo(first.getFileName().toString()) > 0,
                    second + " sorts after " + first);
        }
    }

    /** After another journal instance rotates, the next append goes to the new live file, never to the archive. */
    @Test
    void append_afterRotationByAnotherInstance_writesToNewLiveFile() throws Exception {
        try (Journal writer = Journal.open(JournalConfig.builder(dir).build());
                Journal rotator = Journal.open(JournalConfig.builder(dir).build())) {
            writer.append(batch("w", 0, 2));
            Path archive = rotator.rotate().orElseThrow();
            long archived = Files.size(archive);
            writer.append(batch("w", 2, 2));
            assertEquals(archived, Files.size(archive), "the archive is never written again");
            JournalReader reader = new JournalReader(dir);
            assertEquals(ids("w", 4).subList(2, 4), intactEvents(JournalTestSupport.readFile(reader,
                    journalDir().resolve(JournalFiles.LIVE_FILE))).stream().map(UsageEvent::id).toList());
        }
        assertExactlyOnce(intactEvents(readAll(dir)), ids("w", 4));
    }

    /** An empty live journal is never rotated. */
    @Test
    void rotate_emptyLiveJournal_doesNothing() throws Exception {
        try (Journal j = Journal.open(JournalConfig.builder(dir).build())) {
            assertEquals(Optional.empty(), j.rotate());
            assertEquals(Optional.empty(), j.rotateIfDue());
            assertTrue(archiveNames().isEmpty());
        }
    }

    /** Appends that would pass maxJournalBytes rotate first; every file stays within the limit and order is kept. */
    @Test
    void append_pastMaxJournalBytes_rotatesAndKeepsOrder() throws Exception {
        long max = 4096;
        try (Journal j = Journal.open(JournalConfig.builder(dir).maxJournalBytes(max).build())) {
            for (int b = 0; b < 40; b++) {
                j.append(batch("z", b * 3, 3));
            }
            assertTrue(j.stats().rotations() >= 5, "rotations: " + j.stats().rotations());
        }
        for (JournalSource s : new JournalReader(dir).sources()) {
            assertTrue(s.sizeBytes() <= max, s + " within maxJournalBytes");
        }
        List<UsageEvent> events = intactEvents(readAll(dir));
        assertEquals(ids("z", 120), events.stream().map(UsageEvent::id).toList(), "import order is append order");
    }

    /** A live journal older than maxJournalAge is rotated by the next append or by rotateIfDue, measured on the injected clock. */
    @Test
    void append_afterMaxJournalAge_rotates() throws Exception {
        MutableClock clock = new MutableClock(Instant.parse("2026-11-20T10:00:00Z"));
        try (Journal j = Journal.open(JournalConfig.builder(dir).clock(clock).maxJournalAge(Duration.ofMinutes(10))
                .build())) {
            j.append(batch("a", 0, 2));
            clock.advance(Duration.ofMinutes(9));
            assertEquals(Optional.empty(), j.rotateIfDue());
            j.append(batch("a", 2, 2));
            assertEquals(0, j.stats().rotations());
            clock.advance(Duration.ofMinutes(1));
            j.append(batch("a", 4, 2));
            assertEquals(1, j.stats().rotations());
            assertEquals(1, archiveNames().size());
            clock.advance(Duration.ofMinutes(10));
            assertTrue(j.rotateIfDue().isPresent());
            assertEquals(2, archiveNames().size());
        }
        assertExactlyOnce(intactEvents(readAll(dir)), ids("a", 6));
    }

    /** Reaping deletes only fully imported archives and never the live journal, the lock file or look-alike names. */
    @Test
    void reap_onlyFullyImportedArchives_neverLiveLockOrLookAlikes() throws Exception {
        MutableClock clock = new MutableClock(Instant.parse("2026-11-20T10:00:00Z"));
        List<Path> archives = new ArrayList<>();
        try (Journal j = Journal.open(JournalConfig.builder(dir).clock(clock).build())) {
            for (int i = 0; i < 3; i++) {
                j.append(batch("r" + i, 0, 2));
                archives.add(j.rotate().orElseThrow());
            }
            j.append(batch("live", 0, 2));
            List<String> decoys = List.of("journal.wal.bak", "journal-abc.wal", "journal-.wal", "journal-12.wal.tmp",
                    "xjournal-12.wal", "journal-12.WAL", "Journal-12.wal", "journal-12.wal.deleted", "journal-1x2.wal");
            for (String d : decoys) {
                Files.write(journalDir().resolve(d), new byte[] {1});
            }
            Files.createDirectory(journalDir().resolve("journal-77.wal")); // not a regular file
            Path notImported = archives.get(1);
            List<Path> asked = new ArrayList<>();
            List<Path> deleted = j.reap(p -> {
                asked.add(p);
                return !p.equals(notImported);
            });

            assertEquals(List.of(archives.get(0), archives.get(2)), deleted);
            assertEquals(archives, asked, "only genuine archives are offered, in import order");
            assertTrue(Files.exists(notImported));
            assertTrue(Files.exists(journalDir().resolve(JournalFiles.LIVE_FILE)));
            assertTrue(Files.exists(journalDir().resolve(JournalFiles.LOCK_FILE)));
            for (String d : decoys) {
                assertTrue(Files.exists(journalDir().resolve(d)), d + " survives");
            }
            assertTrue(Files.isDirectory(journalDir().resolve("journal-77.wal")));

            // Even a predicate that says yes to everything leaves the live journal and lock file alone.
            Set<Path> all = new HashSet<>(j.reap(p -> true));
            assertEquals(Set.of(notImported), all);
            assertTrue(Files.exists(journalDir().resolve(JournalFiles.LIVE_FILE)));
            assertTrue(Files.exists(journalDir().resolve(JournalFiles.LOCK_FILE)));
            j.append(batch("live", 2, 1)); // still writable after reaping
        }
        assertExactlyOnce(intactEvents(readAll(dir)), ids("live", 3));
    }

    /** The archive name pattern matches exactly journal-digits.wal and nothing the journal also uses. */
    @Test
    void isArchiveName_exactPatternOnly() {
        assertTrue(JournalFiles.isArchiveName("journal-0.wal"));
        assertTrue(JournalFiles.isArchiveName(JournalFiles.archiveName(1_763_600_000_123_456_789L)));
        for (String n : List.of(JournalFiles.LIVE_FILE, JournalFiles.LOCK_FILE, "journal.wal.bak", "journal-abc.wal",
                "journal-.wal", "journal-1.wal.tmp", "journal--1.wal", "journal-1.wal/", " journal-1.wal")) {
            assertFalse(JournalFiles.isArchiveName(n), n);
        }
    }
}
