package dev.tally.store.repair;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tally.store.DamagedActiveSegmentException;
import dev.tally.store.UsageStore;
import dev.tally.store.dlq.DeadLetterQueue;
import dev.tally.store.ingest.ImportReport;
import dev.tally.store.ingest.Importer;
import dev.tally.store.journal.Journal;
import dev.tally.store.journal.JournalConfig;
import dev.tally.store.meter.Aggregation;
import dev.tally.store.meter.MeterDefinition;
import dev.tally.store.meter.MeterQuery;
import dev.tally.store.meter.MeterRegistry;
import dev.tally.store.meter.MeterResult;
import dev.tally.store.meter.MeterRow;
import dev.tally.store.meter.MeterService;
import dev.tally.store.sql.SandboxOptions;
import dev.tally.store.sql.SqlResult;
import dev.tally.store.sql.SqlSandbox;
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
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.io.TempDir;

/** A damaged active segment: the store opens degraded, {@code repair active} sets it aside, the journal rebuilds it. */
class ActiveSegmentRepairTest {
    private static final Instant NOW = Instant.parse("2026-11-20T12:00:00Z");

    /** How the active segment is damaged. */
    enum Damage {
        /** The DuckDB file cut to a third of its size. */
        TRUNCATED,
        /** Bytes overwritten in the middle of the DuckDB file. */
        FLIPPED,
        /** A write-ahead log beside the segment that DuckDB cannot replay. */
        BAD_WAL
    }

    @TempDir
    Path dir;

    @TempDir
    Path crashed;

    private final MutableClock clock = new MutableClock(NOW);

    private UsageStore open() {
        return UsageStore.builder(dir).clock(clock).sealExecutor(Runnable::run).build();
    }

    private Journal journal() {
        return Journal.open(JournalConfig.builder(dir).clock(clock).build());
    }

    private Importer importer(UsageStore store) {
        return new Importer(store, dir, List.of(), 100, 1 << 20, DeadLetterQueue.open(dir, false), clock);
    }

    /**
     * Events journaled, imported and partly sealed survive the loss of the active segment: the
     * store opens degraded (sealed reads say partial, appends name the repair), and after
     * {@code repair active} one import stores every journaled event exactly once on disk.
     */
    @ParameterizedTest
    @EnumSource(Damage.class)
    void repairActive_damagedActiveSegment_rebuildsFromJournalExactlyOnce(Damage damage) throws Exception {
        Path archive1;
        Path archive2;
        long activeSeq;
        try (UsageStore store = open(); Journal journal = journal()) {
            journal.append(TestEvents.batch("acme", "a", 300, 3, NOW, Duration.ofHours(1), 1));
            archive1 = journal.rotate().orElseThrow();
            assertEquals(300, importer(store).runOnce().stored());
            store.sealNow(); // "a" is in Parquet now
            journal.append(TestEvents.batch("acme", "b", 200, 3, NOW, Duration.ofHours(1), 2));
            archive2 = journal.rotate().orElseThrow();
            journal.append(TestEvents.batch("acme", "c", 100, 3, NOW, Duration.ofHours(1), 3));
            Importer importer = importer(store);
            assertEquals(300, importer.runOnce().stored()); // "b" and "c" only in the active segment
            assertEquals(List.of(), importer.reap(journal), "first seen imported while their rows are unsealed");
            activeSeq = store.lastWrittenSeq();
            if (damage == Damage.BAD_WAL) {
                copyFiles(dir.resolve("segments"), crashed); // as a crash leaves them: rows in the log
            }
        }
        if (damage == Damage.BAD_WAL) {
            copyFiles(crashed, dir.resolve("segments"));
        }
        assertTrue(Files.exists(archive1) && Files.exists(archive2));

        Path segment = dir.resolve("segments").resolve(String.format("%020d", activeSeq) + ".duckdb");
        damage(segment, damage);

        try (UsageStore store = open()) {
            DamagedActiveSegmentException refused = assertThrows(DamagedActiveSegmentException.class,
                    () -> store.append(TestEvents.batch("acme", "z", 1, 1, NOW, Duration.ofHours(1), 9)));
            assertTrue(refused.getMessage().contains("repair active"), refused.getMessage());
            assertThrows(DamagedActiveSegmentException.class, () -> importer(store).runOnce());
            try (SqlSandbox sql = SqlSandbox.open(store, "acme",
                    SandboxOptions.defaults().withWorkDir(Files.createDirectories(dir.resolve("work"))))) {
                SqlResult r = sql.query("SELECT count(*) FROM usage_events");
                assertEquals(List.of(List.of(300L)), r.rows(), "the sealed events answer");
                assertTrue(r.partial());
                assertTrue(r.warnings().stream().anyMatch(w -> w.contains(segment.getFileName().toString())),
                        r.warnings().toString());
            }
            assertMeterPartial(store, 300, segment.getFileName().toString());
        }

        RepairReport dry = StoreRepair.repairActive(dir, clock, false);
        assertTrue(Files.exists(segment), "report-only changes nothing");
        assertTrue(dry.actions().stream().anyMatch(a -> a.startsWith("would move")), dry.actions().toString());

        RepairReport applied = StoreRepair.repairActive(dir, clock, true);
        assertFalse(Files.exists(segment));
        assertFalse(Files.exists(dir.resolve("segments").resolve(segment.getFileName() + ".wal")));
        assertFalse(applied.losses().isEmpty());
        try (Stream<Path> q = Files.list(dir.resolve("quarantine/segments"))) {
            assertTrue(q.anyMatch(p -> p.getFileName().toString().endsWith(".reason")));
        }

        try (UsageStore store = open(); Journal journal = journal()) {
            ImportReport pass = importer(store).runOnce();
            assertEquals(300, pass.stored(), "b and c again");
            assertEquals(300, pass.duplicates(), "a is sealed already");
            store.sealNow();
        }
        DiskRows.Scan scan = DiskRows.scan(dir);
        assertEquals(600, scan.counts().size());
        assertEquals(List.of(), scan.doubled());
    }

    /**
     * A damaged pending segment (rolled, its seal cut short by a crash) does not stop the store:
     * it opens degraded, naming the segment; {@code repair active} moves it to quarantine with a
     * reason and clears the positions of the healthy active segment above it, so one import
     * restores its events and every journaled event is stored exactly once on disk.
     */
    @ParameterizedTest
    @EnumSource(value = Damage.class, names = {"TRUNCATED", "FLIPPED"})
    void repairActive_damagedPendingSegment_rebuildsFromJournalExactlyOnce(Damage damage) throws Exception {
        long pendingSeq;
        long activeSeq;
        try (UsageStore store = open(); Journal journal = journal()) {
            journal.append(TestEvents.batch("acme", "a", 300, 3, NOW, Duration.ofHours(1), 1));
            journal.rotate().orElseThrow();
            assertEquals(300, importer(store).runOnce().stored());
            store.sealNow(); // "a" is in Parquet now
            journal.append(TestEvents.batch("acme", "b", 200, 3, NOW, Duration.ofHours(1), 2));
            journal.rotate().orElseThrow();
            assertEquals(200, importer(store).runOnce().stored()); // "b" only in the active segment
            pendingSeq = store.lastWrittenSeq();
        }
        // The state a crash leaves between a rollover and the seal's manifest swap: "b"'s segment
        // and the manifest before that seal, kept here and put back after the next session.
        Path segment = dir.resolve("segments").resolve(String.format("%020d", pendingSeq) + ".duckdb");
        Files.copy(segment, crashed.resolve(segment.getFileName()));
        Files.copy(dir.resolve("manifest.json"), crashed.resolve("manifest.json"));
        try (UsageStore store = open(); Journal journal = journal()) {
            store.sealNow(); // rolls "b" into a pending segment and seals it
            journal.append(TestEvents.batch("acme", "c", 100, 3, NOW, Duration.ofHours(1), 3));
            assertEquals(100, importer(store).runOnce().stored()); // "c" in the new active segment
            activeSeq = store.lastWrittenSeq();
        }
        assertTrue(activeSeq > pendingSeq);
        Files.copy(crashed.resolve(segment.getFileName()), segment);
        Files.copy(crashed.resolve("manifest.json"), dir.resolve("manifest.json"),
                java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        damage(segment, damage);
        Path active = dir.resolve("segments").resolve(String.format("%020d", activeSeq) + ".duckdb");

        try (UsageStore store = open()) {
            DamagedActiveSegmentException refused = assertThrows(DamagedActiveSegmentException.class,
                    () -> store.append(TestEvents.batch("acme", "z", 1, 1, NOW, Duration.ofHours(1), 9)));
            assertTrue(refused.getMessage().contains("pending segment " + pendingSeq)
                    && refused.getMessage().contains("repair active"), refused.getMessage());
            try (SqlSandbox sql = SqlSandbox.open(store, "acme",
                    SandboxOptions.defaults().withWorkDir(Files.createDirectories(dir.resolve("work"))))) {
                SqlResult r = sql.query("SELECT count(*) FROM usage_events");
                assertEquals(List.of(List.of(300L)), r.rows(), "the sealed events answer");
                assertTrue(r.warnings().stream().anyMatch(w -> w.contains("pending segment")
                        && w.contains(segment.getFileName().toString())), r.warnings().toString());
            }
            assertMeterPartial(store, 300, segment.getFileName().toString());
        }
        assertTrue(Files.exists(segment) && Files.exists(active), "a degraded open deletes no segment");

        RepairReport applied = StoreRepair.repairActive(dir, clock, true);
        assertFalse(Files.exists(segment));
        assertTrue(Files.exists(active), "the healthy active segment stays");
        assertTrue(applied.actions().stream().anyMatch(a -> a.contains("cleared the import positions")),
                applied.actions().toString());
        try (Stream<Path> q = Files.list(dir.resolve("quarantine/segments"))) {
            List<String> names = q.map(p -> p.getFileName().toString()).toList();
            assertTrue(names.stream().anyMatch(n -> n.startsWith(segment.getFileName().toString())
                    && n.endsWith(".reason")), names.toString());
            assertEquals(2, names.size(), "the segment and its reason: " + names);
        }

        try (UsageStore store = open(); Journal journal = journal()) {
            ImportReport pass = importer(store).runOnce();
            assertEquals(200, pass.stored(), "b again");
            assertEquals(400, pass.duplicates(), "a is sealed, c is in the active segment");
            store.sealNow();
        }
        DiskRows.Scan scan = DiskRows.scan(dir);
        assertEquals(600, scan.counts().size());
        assertEquals(List.of(), scan.doubled());
    }

    /** A COUNT meter over the whole range answers the readable events and says which segment it misses. */
    private static void assertMeterPartial(UsageStore store, long events, String missing) {
        MeterRegistry reg = new MeterRegistry();
        reg.register(new MeterDefinition("calls", "llm.request", Aggregation.COUNT, null));
        try (MeterService meters = new MeterService(store, reg)) {
            MeterResult m = meters.query(MeterQuery.builder("calls", "acme", NOW.minus(Duration.ofDays(1)),
                    NOW.plusSeconds(1)).perSubject(false).build());
            assertEquals(events, m.rows().stream().mapToLong(MeterRow::events).sum(), "the readable events answer");
            assertTrue(m.partial(), "a degraded answer says so");
            assertTrue(m.warnings().stream().anyMatch(w -> w.startsWith("partial: ") && w.contains(missing)),
                    m.warnings().toString());
        }
    }

    private static void copyFiles(Path from, Path to) throws Exception {
        try (Stream<Path> s = Files.list(from)) {
            for (Path p : s.toList()) {
                Files.copy(p, to.resolve(p.getFileName().toString()), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            }
        }
    }

    private static void damage(Path segment, Damage damage) throws Exception {
        switch (damage) {
            case TRUNCATED -> {
                try (FileChannel ch = FileChannel.open(segment, StandardOpenOption.WRITE)) {
                    ch.truncate(ch.size() / 3);
                }
            }
            case FLIPPED -> {
                try (FileChannel ch = FileChannel.open(segment, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                    byte[] junk = new byte[4096];
                    java.util.Arrays.fill(junk, (byte) 0x5A);
                    for (long at = 4096; at < ch.size(); at += 64 * 1024) {
                        ch.write(ByteBuffer.wrap(junk), at);
                    }
                }
            }
            case BAD_WAL -> {
                Path wal = segment.resolveSibling(segment.getFileName() + ".wal");
                try (FileChannel ch = FileChannel.open(wal, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                    ByteBuffer b = ByteBuffer.allocate(1);
                    long at = ch.size() / 2;
                    ch.read(b, at);
                    b.put(0, (byte) (b.get(0) ^ 0x5A));
                    b.flip();
                    ch.write(b, at);
                }
            }
            default -> throw new AssertionError(damage);
        }
    }
}
