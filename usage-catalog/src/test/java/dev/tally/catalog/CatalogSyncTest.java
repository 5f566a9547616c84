package dev.tally.catalog;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tally.store.UsageStore;
import dev.tally.store.internal.Manifest;
import dev.tally.store.internal.SealedPart;
import dev.tally.store.internal.SegmentFiles;
import dev.tally.store.testing.MutableClock;
import dev.tally.store.testing.TestEvents;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.apache.iceberg.Table;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Registration of sealed parts in an SQLite-backed catalog, without crashes. */
class CatalogSyncTest {
    @TempDir
    Path dir;

    private final MutableClock clock = new MutableClock(CatalogStores.NOW);

    /** Sealed parts are registered once: a second sync commits nothing and the check is clean. */
    @Test
    void sync_afterSeal_registersEveryPartOnce() throws Exception {
        try (UsageStore store = CatalogStores.open(dir, clock)) {
            store.append(TestEvents.batch("acme", "a", 500, 5, CatalogStores.NOW, Duration.ofDays(3), 1));
            store.sealNow();
        }
        Manifest m = Manifest.read(dir.resolve(SegmentFiles.MANIFEST_FILE));
        try (CatalogSync sync = CatalogSync.open(dir, CatalogSettings.defaults(dir))) {
            List<SyncReport> first = sync.sync();
            assertEquals(m.parts().size(), first.stream().mapToInt(SyncReport::added).sum());
            List<SyncReport> second = sync.sync();
            assertFalse(second.stream().anyMatch(SyncReport::changed), second.toString());
            sync.check().forEach(c -> assertTrue(c.consistent(), c.toString()));
            for (TallyTable t : TallyTable.values()) {
                Table table = sync.table(t);
                assertEquals("day", table.spec().fields().get(0).transform().toString(), t + " default spec");
                assertEquals(t.timeFieldId(), table.spec().fields().get(0).sourceId());
                assertEquals(2, table.specs().size(), t + " specs: " + table.specs());
                assertEquals(t.schema().asStruct(), table.schema().asStruct(), t + " schema and field ids");
            }
        }
    }

    /**
     * Expiry keeps the newest snapshots, deletes the metadata only expired snapshots used, and
     * never deletes a part: the store's files all stay.
     */
    @Test
    void expireSnapshots_afterSeveralSyncs_keepsNewestAndEveryPart() throws Exception {
        CatalogSettings settings = CatalogSettings.defaults(dir).withSnapshotExpiry(Duration.ofHours(1), 1);
        try (CatalogSync sync = CatalogSync.open(dir, settings)) {
            for (int i = 0; i < 3; i++) {
                try (UsageStore store = CatalogStores.open(dir, clock)) {
                    store.append(TestEvents.batch("acme", "b" + i, 100, 3, CatalogStores.NOW, Duration.ofDays(2), i));
                    store.sealNow();
                }
                sync.sync();
            }
            clock.advance(Duration.ofDays(2));
            try (UsageStore store = CatalogStores.open(dir, clock)) {
                store.compact(true);
            }
            sync.sync();
            assertTrue(count(sync.table(TallyTable.ROLLUPS).snapshots()) >= 4);
            int expired = sync.expireSnapshots(Instant.now().plus(Duration.ofDays(1)));
            assertTrue(expired >= 4, "expired " + expired);
            for (TallyTable t : TallyTable.values()) {
                assertEquals(1, count(sync.table(t).snapshots()), t.tableName());
            }
            sync.check().forEach(c -> assertTrue(c.consistent(), c.toString()));
            Manifest m = Manifest.read(dir.resolve(SegmentFiles.MANIFEST_FILE));
            for (SealedPart p : m.parts()) {
                assertTrue(Files.exists(dir.resolve(p.path())), p.path());
            }
        }
    }

    private static int count(Iterable<?> items) {
        int n = 0;
        for (Object ignored : items) {
            n++;
        }
        return n;
    }
}
