package dev.tally.store.internal;

import static dev.tally.store.testing.TestEvents.event;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tally.store.AppendResult;
import dev.tally.store.UsageEvent;
import dev.tally.store.testing.MutableClock;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The per-part key sidecars that let a reopen rebuild the dedup index without reading Parquet. */
class KeySidecarTest {
    @TempDir
    Path dir;

    private final MutableClock clock = new MutableClock(StoreFixture.NOW);
    private static final Instant T = StoreFixture.NOW.minusSeconds(60);

    /** Sealing writes one sidecar per detail part, holding exactly that part's key hashes. */
    @Test
    void sealNow_writesSidecarWithThePartsKeys() throws IOException {
        List<UsageEvent> batch = new ArrayList<>();
        for (int i = 0; i < 500; i++) {
            batch.add(event("acme", "e" + i, "k" + (i % 7), T.minusSeconds(i * 600L), i));
        }
        try (TieredStore store = StoreFixture.open(StoreFixture.config(dir, clock))) {
            store.append(batch);
            store.sealNow();
            List<SealedPart> detail = Manifest.read(dir.resolve(SegmentFiles.MANIFEST_FILE)).parts(PartKind.DETAIL);
            assertTrue(detail.size() >= 2, "the batch spans several days");
            Set<Long> all = new HashSet<>();
            for (SealedPart p : detail) {
                KeysFile.Keys keys = KeysFile.read(KeysFile.of(dir.resolve(p.path())), p.seq(), p.rows());
                assertNotNull(keys, "sidecar of " + p.path());
                for (long k : keys.hashes()) {
                    all.add(k);
                }
            }
            Set<Long> expected = new HashSet<>();
            batch.forEach(e -> expected.add(KeyHash.of(e.tenant(), e.id())));
            assertEquals(expected, all);
        }
    }

    /** A missing or damaged sidecar is rebuilt from the part on reopen, and duplicates are still refused. */
    @Test
    void open_missingOrDamagedSidecar_rebuiltAndDuplicatesStillRefused() throws IOException {
        try (TieredStore store = StoreFixture.open(StoreFixture.config(dir, clock))) {
            store.append(List.of(event("acme", "a", "k1", T, 1)));
            store.sealNow();
            store.append(List.of(event("acme", "b", "k1", T, 1)));
            store.sealNow();
        }
        List<Path> sidecars = sidecars();
        assertEquals(2, sidecars.size());
        Files.delete(sidecars.get(0));
        try (RandomAccessFile f = new RandomAccessFile(sidecars.get(1).toFile(), "rw")) {
            f.seek(30);
            f.write(0x5A); // flips a key byte: the CRC no longer matches
        }
        try (TieredStore store = StoreFixture.open(StoreFixture.config(dir, clock))) {
            AppendResult r = store.append(List.of(event("acme", "a", "k1", T, 1), event("acme", "b", "k1", T, 1)));
            assertEquals(0, r.accepted());
            assertEquals(2, r.duplicates());
            for (SealedPart p : Manifest.read(dir.resolve(SegmentFiles.MANIFEST_FILE)).parts(PartKind.DETAIL)) {
                assertNotNull(KeysFile.read(KeysFile.of(dir.resolve(p.path())), p.seq(), p.rows()),
                        "rewritten sidecar of " + p.path());
            }
        }
    }

    /** A sidecar whose part the manifest does not name (a seal that crashed) is deleted on open. */
    @Test
    void open_sidecarOfUnpublishedPart_isDeleted() throws IOException {
        try (TieredStore store = StoreFixture.open(StoreFixture.config(dir, clock))) {
            store.append(List.of(event("acme", "a", "k1", T, 1)));
            store.sealNow();
        }
        Path stray = dir.resolve(SegmentFiles.partPath(PartKind.DETAIL, T.atZone(java.time.ZoneOffset.UTC)
                .toLocalDate(), 999) + KeysFile.SUFFIX);
        KeysFile.write(stray, 999, new long[] {1, 2, 3}, 3);
        try (TieredStore store = StoreFixture.open(StoreFixture.config(dir, clock))) {
            assertFalse(Files.exists(stray));
            assertEquals(1, sidecars().size());
        }
    }

    /** A damaged part whose sidecar is gone is quarantined on open instead of keeping the store shut. */
    @Test
    void open_damagedPartWithoutSidecar_isQuarantinedAndStoreOpens() throws IOException {
        List<UsageEvent> batch = new ArrayList<>();
        for (int i = 0; i < 300; i++) {
            batch.add(event("acme", "d" + i, "k" + (i % 5), T, i));
        }
        try (TieredStore store = StoreFixture.open(StoreFixture.config(dir, clock))) {
            store.append(batch);
            store.sealNow();
        }
        SealedPart part = Manifest.read(dir.resolve(SegmentFiles.MANIFEST_FILE)).parts(PartKind.DETAIL).get(0);
        Path file = dir.resolve(part.path());
        Files.delete(KeysFile.of(file));
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            long len = f.length();
            for (long pos = 4; pos < len - 12; pos += 7) { // same size, bytes changed all through the data
                f.seek(pos);
                f.write(0x00);
            }
        }
        try (TieredStore store = StoreFixture.open(StoreFixture.config(dir, clock))) {
            assertTrue(Manifest.read(dir.resolve(SegmentFiles.MANIFEST_FILE)).parts(PartKind.DETAIL).isEmpty(),
                    "the damaged part left the manifest");
            assertTrue(Files.isDirectory(dir.resolve(SegmentFiles.QUARANTINE_DIR)));
            assertEquals(1, store.append(List.of(event("acme", "new", "k1", T, 1))).accepted());
        }
    }

    /** A sidecar read checks sequence, count and CRC, and refuses a file that disagrees. */
    @Test
    void read_wrongSeqCountOrTornFile_returnsNull() throws IOException {
        Path f = dir.resolve("x.parquet.keys");
        KeysFile.write(f, 7, new long[] {10, 20, 30}, 3);
        assertNotNull(KeysFile.read(f, 7, 3));
        assertNull(KeysFile.read(f, 8, 3));
        assertNull(KeysFile.read(f, 7, 2));
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            raf.setLength(raf.length() - 1);
        }
        assertNull(KeysFile.read(f, 7, 3));
        assertNull(KeysFile.read(dir.resolve("absent.keys"), 7, 3));
    }

    private List<Path> sidecars() throws IOException {
        try (Stream<Path> s = Files.walk(dir.resolve(SegmentFiles.ARCHIVE_DIR))) {
            return s.filter(p -> p.toString().endsWith(KeysFile.SUFFIX)).sorted().toList();
        }
    }
}
