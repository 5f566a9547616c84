package dev.tally.catalog;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tally.store.UsageStore;
import dev.tally.store.internal.Manifest;
import dev.tally.store.internal.SealedPart;
import dev.tally.store.internal.SegmentFiles;
import dev.tally.store.testing.ChildJvm;
import dev.tally.store.testing.MutableClock;
import dev.tally.store.testing.TestEvents;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.apache.iceberg.FileScanTask;
import org.apache.iceberg.Table;
import org.apache.iceberg.io.CloseableIterable;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A child JVM killed ({@code kill -9}) at each step of a catalog sync (after a seal, a compaction
 * or a retention pass of the store), then a reopen and one sync, leaves the SQLite-backed
 * catalog's file list equal to the manifest: every part once, nothing retired.
 */
class CatalogCrashTest {
    @TempDir
    Path dir;

    private final MutableClock clock = new MutableClock(CatalogStores.NOW);

    /** Killed at the named step of the sync after a seal, the next sync registers every sealed part once. */
    @ParameterizedTest
    @ValueSource(strings = {CatalogCrashPoint.PLANNED, CatalogCrashPoint.METADATA_WRITTEN,
            CatalogCrashPoint.EVENTS_COMMITTED, CatalogCrashPoint.COMMITTED})
    void syncAfterSeal_killedAtStepThenReopen_catalogEqualsManifest(String step) throws Exception {
        try (UsageStore store = CatalogStores.open(dir, clock)) {
            store.append(TestEvents.batch("acme", "a", 300, 5, CatalogStores.NOW, Duration.ofDays(3), 1));
            store.sealNow();
        }
        syncOnce();
        killChildAt("seal", CatalogStores.NOW, step);

        reopenAndSync();
    }

    /**
     * Killed at the named step of the sync after a compaction (sources replaced by merged parts)
     * or a retention pass (expired parts removed), the next sync leaves no retired part registered.
     */
    @ParameterizedTest
    @ValueSource(strings = {"compact " + CatalogCrashPoint.METADATA_WRITTEN,
            "compact " + CatalogCrashPoint.EVENTS_COMMITTED, "retention " + CatalogCrashPoint.EVENTS_COMMITTED})
    void syncAfterCompactionOrRetention_killedAtStepThenReopen_catalogEqualsManifest(String actionAndStep)
            throws Exception {
        String action = actionAndStep.split(" ")[0];
        String step = actionAndStep.split(" ")[1];
        try (UsageStore store = CatalogStores.open(dir, clock)) {
            store.append(TestEvents.batch("acme", "a", 300, 5, CatalogStores.NOW, Duration.ofDays(3), 1));
            store.sealNow();
            store.append(TestEvents.batch("acme", "b", 300, 5, CatalogStores.NOW, Duration.ofDays(3), 2));
            store.sealNow();
        }
        syncOnce();
        Instant at = CatalogStores.NOW.plus(Duration.ofDays(3));
        if (action.equals("retention")) {
            clock.set(at);
            try (UsageStore store = CatalogStores.open(dir, clock)) {
                store.compact(true);
            }
            syncOnce();
            at = CatalogStores.NOW.plus(Duration.ofDays(50));
        }
        Set<String> before = manifestPaths();
        killChildAt(action, at, step);
        assertNotEquals(before, manifestPaths(), "the " + action + " pass changed the manifest");

        reopenAndSync();
    }

    private void syncOnce() throws Exception {
        try (CatalogSync sync = CatalogSync.open(dir, CatalogSettings.defaults(dir))) {
            sync.sync();
        }
        assertCatalogEqualsManifest();
    }

    /** Reopens the catalog, syncs once, and checks the file lists; a second sync changes nothing. */
    private void reopenAndSync() throws Exception {
        try (CatalogSync sync = CatalogSync.open(dir, CatalogSettings.defaults(dir))) {
            sync.sync();
            assertFalse(sync.sync().stream().anyMatch(SyncReport::changed), "a second sync has nothing to do");
            sync.check().forEach(c -> assertTrue(c.consistent(), c.toString()));
        }
        assertCatalogEqualsManifest();
    }

    private Set<String> manifestPaths() throws Exception {
        return Manifest.read(dir.resolve(SegmentFiles.MANIFEST_FILE)).paths();
    }

    /** Each table's current files, listed from the catalog, equal the manifest's parts of its kind, each once. */
    private void assertCatalogEqualsManifest() throws Exception {
        Manifest m = Manifest.read(dir.resolve(SegmentFiles.MANIFEST_FILE));
        try (CatalogSync sync = CatalogSync.open(dir, CatalogSettings.defaults(dir))) {
            for (TallyTable t : TallyTable.values()) {
                List<String> files = new ArrayList<>();
                Table table = sync.table(t);
                if (table.currentSnapshot() != null) {
                    try (CloseableIterable<FileScanTask> tasks = table.newScan().planFiles()) {
                        tasks.forEach(task -> files.add(task.file().location()));
                    }
                }
                Set<String> expected = m.parts(t.kind()).stream().map(sync::location).collect(Collectors.toSet());
                assertEquals(expected, new HashSet<>(files), t.tableName());
                assertEquals(files.size(), new HashSet<>(files).size(), t.tableName() + " lists a file twice: " + files);
                long rows = m.parts(t.kind()).stream().mapToLong(SealedPart::rows).sum();
                long registeredRows = 0;
                if (table.currentSnapshot() != null) {
                    registeredRows = Long.parseLong(table.currentSnapshot().summary().getOrDefault("total-records", "0"));
                }
                assertEquals(rows, registeredRows, t.tableName() + " row count");
            }
        }
    }

    private void killChildAt(String action, Instant at, String step) throws Exception {
        try (ChildJvm child = ChildJvm.start(CatalogSyncChild.class, dir.resolveSibling("child-" + step + ".log"),
                dir.toString(), Long.toString(at.getEpochSecond()), action, step)) {
            String line = child.await("AT ", 120);
            assertNotNull(line, "child reached " + step + "; output: " + child.output());
            assertEquals("AT " + step, line);
            child.kill();
        }
    }
}
