package dev.tally.catalog;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tally.store.UsageStore;
import dev.tally.store.internal.Manifest;
import dev.tally.store.internal.SegmentFiles;
import dev.tally.store.testing.ChildJvm;
import dev.tally.store.testing.MutableClock;
import dev.tally.store.testing.TestEvents;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.apache.iceberg.FileScanTask;
import org.apache.iceberg.Table;
import org.apache.iceberg.io.CloseableIterable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Several writers commit to one SQLite catalog file at the same moment, as sharded workers on
 * one machine (or one shared mount) do: the commits take turns on the lock file beside the
 * database, and none is lost or doubled. The catalog's file list must equal the union of the
 * writers' manifests.
 */
class SqliteConcurrentSyncTest {
    private static final int ROUNDS = 3;

    @TempDir
    Path tmp;

    /** Three child JVMs, each a worker's data directory, sync three times each at once into one SQLite file; the catalog lists every part of all three once. */
    @Test
    void sync_threeProcessesOneSqliteFile_catalogEqualsUnionOfManifests() throws Exception {
        Path shared = tmp.resolve("shared");
        Files.createDirectories(shared);
        String uri = "jdbc:sqlite:" + shared.resolve("catalog.db");
        Path warehouse = shared.resolve("warehouse");
        List<Path> dirs = new ArrayList<>();
        List<ChildJvm> children = new ArrayList<>();
        try {
            for (int i = 0; i < 3; i++) {
                Path dir = sealed(i, ROUNDS);
                dirs.add(dir);
                children.add(ChildJvm.start(ConcurrentSyncChild.class, tmp.resolve("child-" + i + ".log"),
                        dir.toString(), Integer.toString(ROUNDS), uri, warehouse.toString()));
            }
            for (ChildJvm c : children) {
                assertEquals("READY", c.await("READY", 120), String.valueOf(c.output()));
            }
            for (ChildJvm c : children) {
                OutputStream in = c.process().getOutputStream();
                in.write("GO\n".getBytes(StandardCharsets.UTF_8));
                in.flush();
            }
            for (int i = 0; i < children.size(); i++) {
                ChildJvm c = children.get(i);
                assertEquals("DONE", c.await("DONE", 180), "child " + i + ": " + c.output()
                        + "; log: " + Files.readString(tmp.resolve("child-" + i + ".log")));
                assertEquals(0, c.waitFor(60));
            }
        } finally {
            for (ChildJvm c : children) {
                c.close();
            }
        }
        assertCatalogEqualsUnion(dirs, uri, warehouse);
    }

    /** Three threads of one process, each with its own catalog client on one SQLite file, sync at once; every part is listed once. */
    @Test
    void sync_threeClientsOneProcess_catalogEqualsUnionOfManifests() throws Exception {
        Path shared = tmp.resolve("shared");
        String uri = "jdbc:sqlite:" + shared.resolve("catalog.db");
        Path warehouse = shared.resolve("warehouse");
        List<Path> dirs = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            dirs.add(sealed(i, 1));
        }
        CyclicBarrier start = new CyclicBarrier(dirs.size());
        ExecutorService pool = Executors.newFixedThreadPool(dirs.size());
        try {
            List<Future<List<SyncReport>>> done = new ArrayList<>();
            for (Path dir : dirs) {
                Callable<List<SyncReport>> task = () -> {
                    try (CatalogSync sync = CatalogSync.open(dir, settings(dir, uri, warehouse))) {
                        start.await(60, TimeUnit.SECONDS);
                        return sync.sync();
                    }
                };
                done.add(pool.submit(task));
            }
            for (Future<List<SyncReport>> f : done) {
                assertTrue(f.get(120, TimeUnit.SECONDS).stream().allMatch(SyncReport::changed));
            }
        } finally {
            pool.shutdownNow();
        }
        assertCatalogEqualsUnion(dirs, uri, warehouse);
    }

    /** Data directory {@code worker-i} with {@code seals} sealed batches of tenant {@code tenant-i}. */
    private Path sealed(int i, int seals) {
        Path dir = tmp.resolve("worker-" + i);
        try (UsageStore store = CatalogStores.open(dir, new MutableClock(CatalogStores.NOW))) {
            for (int s = 0; s < seals; s++) {
                store.append(TestEvents.batch("tenant-" + i, "s" + s, 100, 4, CatalogStores.NOW, Duration.ofDays(3),
                        10L * i + s));
                store.sealNow();
            }
        }
        return dir;
    }

    private static CatalogSettings settings(Path dir, String uri, Path warehouse) {
        return CatalogSettings.defaults(dir).withUri(uri, null, null).withWarehouse(warehouse);
    }

    /** Both tables together list exactly the parts of every manifest, each once, and each data directory checks consistent. */
    private static void assertCatalogEqualsUnion(List<Path> dirs, String uri, Path warehouse) throws Exception {
        Set<String> expected = new HashSet<>();
        for (Path dir : dirs) {
            try (CatalogSync sync = CatalogSync.open(dir, settings(dir, uri, warehouse))) {
                sync.check().forEach(c -> assertTrue(c.consistent(), c.toString()));
                Manifest m = Manifest.read(dir.resolve(SegmentFiles.MANIFEST_FILE));
                assertFalse(m.parts().isEmpty(), dir + " sealed nothing");
                m.parts().forEach(p -> expected.add(sync.location(p)));
            }
        }
        Set<String> listed = new HashSet<>();
        try (CatalogSync sync = CatalogSync.open(dirs.get(0), settings(dirs.get(0), uri, warehouse))) {
            for (TallyTable t : TallyTable.values()) {
                Table table = sync.table(t);
                try (CloseableIterable<FileScanTask> tasks = table.newScan().planFiles()) {
                    for (FileScanTask task : tasks) {
                        assertTrue(listed.add(task.file().location()), "listed twice: " + task.file().location());
                    }
                }
            }
        }
        assertEquals(expected, listed);
    }
}
