package dev.tally.catalog;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tally.store.UsageStore;
import dev.tally.store.internal.Manifest;
import dev.tally.store.internal.SegmentFiles;
import dev.tally.store.testing.MutableClock;
import dev.tally.store.testing.TestEvents;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
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
            System.out.println(sync.table(TallyTable.EVENTS).specs());
            System.out.println(sync.table(TallyTable.ROLLUPS).specs());
        }
    }
}
