package dev.tally.store.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tally.store.SegmentInfo;
import dev.tally.store.StoreException;
import dev.tally.store.UsageEvent;
import dev.tally.store.repair.RepairReport;
import dev.tally.store.repair.StoreRepair;
import dev.tally.store.testing.MutableClock;
import dev.tally.store.testing.TestEvents;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Damaged files are detected, set aside with a clear error, and never silently change what the store reports. */
class DamageTest {
    @TempDir
    Path dir;

    private final MutableClock clock = new MutableClock(StoreFixture.NOW);
    private final List<UsageEvent> events = TestEvents.batch("acme", "d", 3_000, 3, StoreFixture.NOW, Duration.ofDays(3), 5);

    private void sealedStoreWithActiveRows() {
        try (TieredStore store = StoreFixture.open(StoreFixture.config(dir, clock))) {
            store.append(events.subList(0, 2_000));
            store.sealNow();
            store.append(events.subList(2_000, 3_000));
        }
    }

    /** A truncated manifest stops the open with the repair command; the rebuild restores every event exactly once. */
    @Test
    void open_truncatedManifest_refusedThenRebuilt() throws Exception {
        sealedStoreWithActiveRows();
        Path manifest = dir.resolve("manifest.json");
        try (FileChannel ch = FileChannel.open(manifest, StandardOpenOption.WRITE)) {
            ch.truncate(ch.size() / 2);
        }
        StoreException e = assertThrows(StoreException.class, () -> StoreFixture.open(StoreFixture.config(dir, clock)));
        assertTrue(e.getMessage().contains("usage-worker repair manifest"), e.getMessage());

        RepairReport r = StoreRepair.rebuildManifest(dir, clock);
        assertTrue(r.losses().isEmpty(), r.toString());
        try (TieredStore store = StoreFixture.open(StoreFixture.config(dir, clock))) {
            assertExactlyOnce(store, 3_000);
        }
    }

    /** A manifest with one flipped byte is detected by its checksum, not trusted. */
    @Test
    void open_flippedManifestByte_refused() throws Exception {
        sealedStoreWithActiveRows();
        flip(dir.resolve("manifest.json"), 40);
        StoreException e = assertThrows(StoreException.class, () -> StoreFixture.open(StoreFixture.config(dir, clock)));
        assertTrue(e.getMessage().contains("damaged"), e.getMessage());
    }

    /** A truncated archive part is quarantined on open, listed as such, and the rest stays queryable. */
    @Test
    void open_truncatedPart_quarantinedRestQueryable() throws Exception {
        sealedStoreWithActiveRows();
        Path part = firstDetailPart();
        long rowsInPart;
        try (TieredStore store = StoreFixture.open(StoreFixture.config(dir, clock))) {
            String rel = dir.relativize(part).toString();
            rowsInPart = store.segments().stream().filter(s -> s.path().equals(rel)).findFirst().orElseThrow().rows();
        }
        try (FileChannel ch = FileChannel.open(part, StandardOpenOption.WRITE)) {
            ch.truncate(ch.size() - 100);
        }
        try (TieredStore store = StoreFixture.open(StoreFixture.config(dir, clock))) {
            assertFalse(Files.exists(part));
            assertTrue(store.segments().stream().anyMatch(s -> s.state() == SegmentInfo.State.QUARANTINED));
            assertEquals(3_000 - rowsInPart, TierScan.idCounts(store).size());
            try (Stream<Path> q = Files.walk(dir.resolve("quarantine"))) {
                assertTrue(q.anyMatch(p -> p.getFileName().toString().startsWith(part.getFileName().toString())));
            }
        }
    }

    /** A part with a flipped byte (same size) is found by the CRC check and quarantined; the rest stays queryable. */
    @Test
    void verifyParts_flippedPartByte_quarantined() throws Exception {
        sealedStoreWithActiveRows();
        Path part = firstDetailPart();
        flip(part, Files.size(part) / 2);
        try (TieredStore store = StoreFixture.open(StoreFixture.config(dir, clock))) {
            List<String> problems = store.verifyParts();
            assertEquals(1, problems.size(), problems.toString());
            assertTrue(problems.get(0).contains("CRC32C"), problems.get(0));
            assertTrue(store.segments().stream().anyMatch(s -> s.state() == SegmentInfo.State.QUARANTINED));
            store.total("acme", "llm.request", "key-0", "$.input_tokens", StoreFixture.NOW.minus(Duration.ofDays(4)),
                    StoreFixture.NOW.plusSeconds(1));
        }
        try (TieredStore store = StoreFixture.open(StoreFixture.config(dir, clock))) {
            assertTrue(store.verifyParts().isEmpty(), "the quarantine is remembered in the manifest");
        }
    }

    /** A truncated segment WAL opens with its committed prefix. */
    @Test
    void open_truncatedWal_opensWithCommittedPrefix() throws Exception {
        Path copy = crashCopyWithWal();
        Path wal = walOf(copy);
        long size = Files.size(wal);
        try (FileChannel ch = FileChannel.open(wal, StandardOpenOption.WRITE)) {
            ch.truncate(size * 6 / 10);
        }
        try (TieredStore store = StoreFixture.open(StoreFixture.config(copy, clock))) {
            int n = TierScan.idCounts(store).size();
            assertTrue(n > 0 && n < 1_000, "a committed prefix of the 10 batches: " + n);
            assertEquals(0, n % 100, "whole transactions only: " + n);
        }
    }

    /** A flipped byte in the middle of a segment WAL opens the store degraded, appends name the repair commands; the WAL repair cuts the log and says what was lost. */
    @Test
    void open_flippedWalByte_refusedThenRepaired() throws Exception {
        Path copy = crashCopyWithWal();
        Path wal = walOf(copy);
        flip(wal, Files.size(wal) / 2);
        try (TieredStore degraded = StoreFixture.open(StoreFixture.config(copy, clock))) {
            StoreException e = assertThrows(dev.tally.store.DamagedActiveSegmentException.class,
                    () -> degraded.append(events.subList(0, 1)));
            assertTrue(e.getMessage().contains("usage-worker repair wal"), e.getMessage());
            assertTrue(e.getMessage().contains("usage-worker repair active"), e.getMessage());
        }

        RepairReport r = StoreRepair.repairWal(copy, clock);
        assertEquals(1, r.losses().size(), r.toString());
        assertTrue(r.losses().get(0).contains("bytes after byte"), r.losses().get(0));
        try (TieredStore store = StoreFixture.open(StoreFixture.config(copy, clock))) {
            int n = TierScan.idCounts(store).size();
            assertTrue(n < 1_000 && n % 100 == 0, "a committed prefix: " + n);
        }
        try (Stream<Path> q = Files.walk(copy.resolve("quarantine"))) {
            assertTrue(q.anyMatch(p -> p.getFileName().toString().contains(".wal.")), "a copy of the damaged log is kept");
        }
    }

    /** Ten committed batches of 100 in the active segment's WAL, copied while the store is open (as a crash leaves them). */
    private Path crashCopyWithWal() throws Exception {
        Path copy = dir.resolve("crashed");
        try (TieredStore store = StoreFixture.open(StoreFixture.config(dir.resolve("live"), clock))) {
            for (int b = 0; b < 10; b++) {
                store.append(events.subList(b * 100, (b + 1) * 100));
            }
            copyTree(dir.resolve("live"), copy);
        }
        Files.deleteIfExists(copy.resolve(SegmentFiles.LOCK_FILE));
        return copy;
    }

    private static Path walOf(Path root) throws Exception {
        try (Stream<Path> s = Files.list(root.resolve("segments"))) {
            return s.filter(p -> p.toString().endsWith(".wal")).findFirst().orElseThrow();
        }
    }

    private Path firstDetailPart() throws Exception {
        try (Stream<Path> s = Files.walk(dir.resolve("archive"))) {
            return s.filter(p -> p.toString().endsWith(".parquet")).sorted().findFirst().orElseThrow();
        }
    }

    private static void flip(Path f, long at) throws Exception {
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            ByteBuffer b = ByteBuffer.allocate(1);
            ch.read(b, at);
            b.put(0, (byte) (b.get(0) ^ 0x5A));
            b.flip();
            ch.write(b, at);
        }
    }

    private static void copyTree(Path from, Path to) throws Exception {
        try (Stream<Path> s = Files.walk(from)) {
            for (Path p : s.toList()) {
                Path t = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(t);
                } else {
                    Files.copy(p, t, StandardCopyOption.REPLACE_EXISTING);
                }
            }
        }
    }

    private static void assertExactlyOnce(TieredStore store, int expected) throws Exception {
        Map<String, Integer> counts = TierScan.idCounts(store);
        assertEquals(expected, counts.size());
        counts.forEach((id, n) -> assertEquals(1, n, id));
    }
}
