package dev.tally.catalog;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tally.store.testing.SimulatedCrash;
import dev.tally.store.UsageStore;
import dev.tally.store.internal.Manifest;
import dev.tally.store.internal.SealedPart;
import dev.tally.store.internal.SegmentFiles;
import dev.tally.store.testing.ChildJvm;
import dev.tally.store.testing.MutableClock;
import dev.tally.store.testing.TestEvents;
import java.nio.file.Files;
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
import org.junit.jupiter.params.provider.CsvSource;

/**
 * A catalog sync stopped at each of its steps, after a seal, a compaction or a retention pass of
 * the store, then a reopen and one sync, leaves the SQLite-backed catalog's file list equal to the
 * manifest: every part once, nothing retired, row counts equal. Every step is stopped for real, a
 * child JVM killed with {@code kill -9} there (each step once, the three passes spread over them),
 * and every pass and step in process (the seam throws, nothing is cleaned up).
 */
class CatalogCrashTest {
    @TempDir
    Path dir;

    private final MutableClock clock = new MutableClock(CatalogStores.NOW);

    /** Thrown by the in-process seam: a crash the sync does not survive. */
    /** Stopped at the named step of the sync after the named store pass, the next sync makes the catalog equal the manifest. */
    @ParameterizedTest(name = "{0} {1}")
    @CsvSource({
            "seal, " + CatalogCrashPoint.LOCKED,
            "seal, " + CatalogCrashPoint.PLANNED, "seal, " + CatalogCrashPoint.METADATA_WRITTEN,
            "seal, " + CatalogCrashPoint.EVENTS_COMMITTED, "seal, " + CatalogCrashPoint.COMMITTED,
            "compact, " + CatalogCrashPoint.PLANNED, "compact, " + CatalogCrashPoint.METADATA_WRITTEN,
            "compact, " + CatalogCrashPoint.EVENTS_COMMITTED,
            "retention, " + CatalogCrashPoint.METADATA_WRITTEN, "retention, " + CatalogCrashPoint.EVENTS_COMMITTED})
    void sync_stoppedAtStepThenReopen_catalogEqualsManifest(String action, String step) throws Exception {
        Instant at = prepare(action);
        Set<String> before = manifestPaths();
        runPass(action, at);
        assertNotEquals(before, manifestPaths(), "the " + action + " pass changed the manifest");
        CatalogCrashPoint crash = s -> {
            if (s.equals(step)) {
                throw new SimulatedCrash(s);
            }
        };
        CatalogSync sync = CatalogSync.open(dir, CatalogSettings.defaults(dir), crash);
        try {
            assertThrows(RuntimeException.class, sync::sync);
        } finally {
            sync.close();
        }

        reopenAndSync();
    }

    /**
     * Killed ({@code kill -9}) at the named step of the sync after the named store pass, a restart
     * and one sync leave the catalog equal to the manifest, nothing registered twice. After a kill
     * holding the lock, the restart gets it: the system released it with the dead process.
     */
    @ParameterizedTest(name = "{0} {1}")
    @CsvSource({
            "seal, " + CatalogCrashPoint.LOCKED,
            "retention, " + CatalogCrashPoint.PLANNED,
            "seal, " + CatalogCrashPoint.METADATA_WRITTEN,
            "compact, " + CatalogCrashPoint.EVENTS_COMMITTED,
            "compact, " + CatalogCrashPoint.METADATA_WRITTEN + "#2",
            "retention, " + CatalogCrashPoint.COMMITTED})
    void sync_killedAtStepThenReopen_catalogEqualsManifest(String action, String step) throws Exception {
        Instant at = prepare(action);
        Set<String> before = manifestPaths();
        runPass(action, at);
        assertNotEquals(before, manifestPaths(), "the " + action + " pass changed the manifest");
        // The store pass ran here; the child only syncs, so it starts without DuckDB.
        Path log = dir.resolveSibling("child-" + action + ".log");
        try (ChildJvm child = ChildJvm.start(CatalogSyncChild.class, log, dir.toString(),
                Long.toString(at.getEpochSecond()), "none", step)) {
            // Generous: a child JVM on a loaded 2-core machine took over 120 s to get here once.
            String line = child.await("AT ", 300);
            assertNotNull(line, "child reached " + step + "; output: " + child.output() + "; log: "
                    + (Files.exists(log) ? Files.readString(log) : "none"));
            assertEquals("AT " + step, line);
            child.kill();
        }

        reopenAndSync();
    }

    /**
     * Builds the state before the pass and syncs it cleanly; returns when the pass runs. seal: one
     * sealed batch; compact: two sealed batches over the same days; retention: those, compacted.
     */
    private Instant prepare(String action) throws Exception {
        try (UsageStore store = CatalogStores.open(dir, clock)) {
            store.append(TestEvents.batch("acme", "a", 300, 5, CatalogStores.NOW, Duration.ofDays(3), 1));
            store.sealNow();
            if (!action.equals("seal")) {
                store.append(TestEvents.batch("acme", "b", 300, 5, CatalogStores.NOW, Duration.ofDays(3), 2));
                store.sealNow();
            }
        }
        syncOnce();
        switch (action) {
            case "seal" -> {
                return CatalogStores.NOW;
            }
            case "compact" -> {
                return CatalogStores.NOW.plus(Duration.ofDays(3));
            }
            default -> {
                runPass("compact", CatalogStores.NOW.plus(Duration.ofDays(3)));
                syncOnce();
                return CatalogStores.NOW.plus(Duration.ofDays(50));
            }
        }
    }

    /** The store pass {@link CatalogSyncChild} runs, in process. */
    private void runPass(String action, Instant at) {
        clock.set(at);
        try (UsageStore store = CatalogStores.open(dir, clock)) {
            switch (action) {
                case "seal" -> {
                    store.append(TestEvents.batch("acme", "c", 400, 7, at, Duration.ofDays(3), 11));
                    store.sealNow();
                }
                case "compact" -> store.compact(true);
                default -> store.retention(false);
            }
        }
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
}
