package dev.tally.catalog;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.tally.store.UsageStore;
import dev.tally.store.internal.Manifest;
import dev.tally.store.internal.SegmentFiles;
import dev.tally.store.testing.ChildJvm;
import dev.tally.store.testing.MutableClock;
import dev.tally.store.testing.TestEvents;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import org.apache.iceberg.FileScanTask;
import org.apache.iceberg.Table;
import org.apache.iceberg.io.CloseableIterable;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The catalog on a real PostgreSQL server ({@code TALLY_TEST_PG_URL}, set by
 * {@code .ci/with-postgres}, which starts one on loopback): several data directories share one
 * catalog and one warehouse, and a sync killed mid-commit is repaired. Each test uses a namespace
 * of its own, so runs against one server do not meet.
 */
@Tag("postgres")
class PostgresCatalogTest {
    @TempDir
    Path tmp;

    private String uri;
    private String namespace;
    private final MutableClock clock = new MutableClock(CatalogStores.NOW);

    /** Settings of a data directory on the PostgreSQL catalog {@code uri}, warehouse beside the data directories. */
    static CatalogSettings settings(Path dataDir, String uri, String namespace) {
        return CatalogSettings.defaults(dataDir).withUri(uri, null, null)
                .withWarehouse(dataDir.toAbsolutePath().getParent().resolve("warehouse"))
                .withNames(CatalogSettings.DEFAULT_CATALOG_NAME, namespace);
    }

    @BeforeEach
    void server() {
        uri = System.getenv("TALLY_TEST_PG_URL");
        assumeTrue(uri != null && !uri.isEmpty(), "TALLY_TEST_PG_URL is not set: run under .ci/with-postgres");
        namespace = "t" + Long.toHexString(ThreadLocalRandom.current().nextLong() >>> 1);
    }

    /** Three data directories sealing different tenants sync concurrently; each table lists every part of all three once. */
    @Test
    void sync_threeDataDirsConcurrently_catalogHoldsEveryPartOnce() throws Exception {
        List<Path> dirs = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            Path dir = tmp.resolve("worker-" + i);
            try (UsageStore store = CatalogStores.open(dir, clock)) {
                store.append(TestEvents.batch("tenant-" + i, "w" + i, 300, 4, CatalogStores.NOW, Duration.ofDays(3), i));
                store.sealNow();
            }
            dirs.add(dir);
        }
        ExecutorService pool = Executors.newFixedThreadPool(3);
        try {
            List<Future<Object>> done = new ArrayList<>();
            for (Path dir : dirs) {
                Callable<Object> task = () -> {
                    try (CatalogSync sync = CatalogSync.open(dir, settings(dir, uri, namespace))) {
                        return sync.sync();
                    }
                };
                done.add(pool.submit(task));
            }
            for (Future<Object> f : done) {
                assertNotNull(f.get());
            }
        } finally {
            pool.shutdownNow();
        }
        Set<String> expected = new HashSet<>();
        for (Path dir : dirs) {
            try (CatalogSync sync = CatalogSync.open(dir, settings(dir, uri, namespace))) {
                sync.check().forEach(c -> assertTrue(c.consistent(), c.toString()));
                Manifest m = Manifest.read(dir.resolve(SegmentFiles.MANIFEST_FILE));
                m.parts().forEach(p -> expected.add(sync.location(p)));
            }
        }
        assertEquals(expected, allFiles(dirs.get(0)));
    }

    /** A sync killed after writing new table metadata, before PostgreSQL points at it, is repaired by the next sync. */
    @Test
    void sync_killedAfterMetadataWritten_nextSyncMatchesManifest() throws Exception {
        Path dir = tmp.resolve("worker");
        try (CatalogSync sync = CatalogSync.open(dir, settings(dir, uri, namespace))) {
            assertFalse(sync.sync().stream().anyMatch(SyncReport::changed), "an empty store registers nothing");
        }
        try (ChildJvm child = ChildJvm.start(CatalogSyncChild.class, tmp.resolve("child.log"), dir.toString(),
                Long.toString(CatalogStores.NOW.getEpochSecond()), "seal", CatalogCrashPoint.METADATA_WRITTEN, uri,
                namespace)) {
            assertEquals("AT " + CatalogCrashPoint.METADATA_WRITTEN, child.await("AT ", 120), child.output().toString());
            child.kill();
        }
        try (CatalogSync sync = CatalogSync.open(dir, settings(dir, uri, namespace))) {
            sync.sync();
            sync.check().forEach(c -> assertTrue(c.consistent(), c.toString()));
            Manifest m = Manifest.read(dir.resolve(SegmentFiles.MANIFEST_FILE));
            Set<String> expected = new HashSet<>();
            m.parts().forEach(p -> expected.add(sync.location(p)));
            assertEquals(expected, allFiles(dir));
        }
    }

    /** Every data file of both tables, from every data directory, failing on a file listed twice. */
    private Set<String> allFiles(Path anyDir) throws Exception {
        Set<String> out = new HashSet<>();
        try (CatalogSync sync = CatalogSync.open(anyDir, settings(anyDir, uri, namespace))) {
            for (TallyTable t : TallyTable.values()) {
                Table table = sync.table(t);
                try (CloseableIterable<FileScanTask> tasks = table.newScan().planFiles()) {
                    for (FileScanTask task : tasks) {
                        assertTrue(out.add(task.file().location()), "listed twice: " + task.file().location());
                    }
                }
            }
        }
        return out;
    }
}
