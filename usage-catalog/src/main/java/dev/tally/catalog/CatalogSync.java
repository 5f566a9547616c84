package dev.tally.catalog;

import dev.tally.store.internal.Manifest;
import dev.tally.store.internal.SealedPart;
import dev.tally.store.internal.SegmentFiles;
import dev.tally.store.io.FileSync;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.locks.ReentrantLock;
import org.apache.iceberg.CatalogProperties;
import org.apache.iceberg.DataFile;
import org.apache.iceberg.FileScanTask;
import org.apache.iceberg.OverwriteFiles;
import org.apache.iceberg.PartitionSpec;
import org.apache.iceberg.Snapshot;
import org.apache.iceberg.Table;
import org.apache.iceberg.TableProperties;
import org.apache.iceberg.Transaction;
import org.apache.iceberg.catalog.Namespace;
import org.apache.iceberg.catalog.TableIdentifier;
import org.apache.iceberg.exceptions.AlreadyExistsException;
import org.apache.iceberg.exceptions.NoSuchTableException;
import org.apache.iceberg.expressions.Expressions;
import org.apache.iceberg.io.CloseableIterable;
import org.apache.iceberg.jdbc.JdbcCatalog;
import org.apache.iceberg.jdbc.JdbcClientPool;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps two Iceberg tables ({@code usage_events}, {@code usage_rollups_hourly}) in step with one
 * store's manifest: every published part is a data file of its table, registered where the store
 * wrote it (never copied or rewritten), and nothing else of this data directory is.
 *
 * <p><b>Reconcile, not replay.</b> {@link #sync()} reads the manifest and the table's current
 * files under this data directory and commits the difference as one snapshot per table: files
 * the manifest names and the table lacks are added, files the table holds and the manifest no
 * longer names (retention, compaction's sources, quarantine) are removed. So a crash anywhere
 * (before a commit, between the two tables' commits, after a commit whose answer was lost) is
 * repaired by the next sync, and running it twice adds nothing twice. The store's manifest stays
 * the only source of truth; the catalog follows it.
 *
 * <p><b>Several workers, one catalog.</b> Each worker owns the files under its own data
 * directory and touches no other; concurrent commits of different workers are retried by
 * Iceberg's optimistic commit ({@code commit.retry.num-retries}) on a fresh base.
 *
 * <p>Thread-safe: {@link #sync()}, {@link #check()} and {@link #expireSnapshots(Instant)} run one
 * at a time under {@code lock}; the catalog client is thread-safe.
 */
public final class CatalogSync implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(CatalogSync.class);
    /** Snapshot summary key naming the data directory whose sync committed it. */
    public static final String SUMMARY_DATA_DIR = "tally.data-dir";
    /** Snapshot summary key: the manifest's last sealed segment when the snapshot was committed. */
    public static final String SUMMARY_LAST_SEQ = "tally.manifest-last-seq";

    private final Path dataDir;
    private final String prefix;
    private final CatalogSettings settings;
    private final JdbcCatalog catalog;
    private final CatalogCrashPoint crash;
    private final ReentrantLock lock = new ReentrantLock();

    private CatalogSync(Path dataDir, CatalogSettings settings, JdbcCatalog catalog, CatalogCrashPoint crash) {
        this.dataDir = dataDir;
        this.prefix = location(dataDir, "");
        this.settings = settings;
        this.catalog = catalog;
        this.crash = crash;
    }

    /** Opens the catalog for the store in {@code dataDir}, creating the namespace and tables if missing. */
    public static CatalogSync open(Path dataDir, CatalogSettings settings) throws IOException {
        return open(dataDir, settings, CatalogCrashPoint.NONE);
    }

    /** {@link #open(Path, CatalogSettings)} with a crash seam, for tests. */
    public static CatalogSync open(Path dataDir, CatalogSettings settings, CatalogCrashPoint crash) throws IOException {
        Path root = dataDir.toAbsolutePath().normalize();
        if (settings.sqlite()) {
            Path db = Path.of(settings.uri().substring("jdbc:sqlite:".length()).replaceFirst("\\?.*$", ""));
            if (db.getParent() != null && !Files.isDirectory(db.getParent())) {
                Files.createDirectories(db.getParent());
                FileSync.fsyncDirectory(db.getParent().getParent());
            }
        }
        Files.createDirectories(settings.warehouse());
        Map<String, String> props = new HashMap<>();
        props.put(CatalogProperties.URI, settings.uri());
        props.put(CatalogProperties.WAREHOUSE_LOCATION, settings.warehouse().toUri().toString());
        // One connection for SQLite: a second one in the same process would only wait on its file lock.
        props.put(CatalogProperties.CLIENT_POOL_SIZE, settings.sqlite() ? "1" : "2");
        props.put("jdbc.schema-version", "V1");
        if (settings.user() != null) {
            props.put("jdbc.user", settings.user());
        }
        if (settings.password() != null) {
            props.put("jdbc.password", settings.password());
        }
        LocalFileIO io = new LocalFileIO(crash);
        JdbcCatalog catalog = new JdbcCatalog(p -> io, p -> new JdbcClientPool(settings.uri(), p), true);
        try {
            catalog.initialize(settings.catalogName(), props);
            CatalogSync sync = new CatalogSync(root, settings, catalog, crash);
            for (TallyTable t : TallyTable.values()) {
                sync.loadOrCreate(t);
            }
            return sync;
        } catch (RuntimeException e) {
            closeQuietly(catalog);
            throw new IOException("cannot open the Iceberg catalog " + CatalogSettings.redact(settings.uri()) + ": "
                    + e.getMessage(), e);
        }
    }

    /** The data directory whose parts this sync registers. */
    public Path dataDir() {
        return dataDir;
    }

    public CatalogSettings settings() {
        return settings;
    }

    /** The location string of a part of this data directory, as the catalog stores it. */
    public String location(SealedPart part) {
        return location(dataDir, part.path());
    }

    private static String location(Path root, String relative) {
        Path p = relative.isEmpty() ? root : FileSync.resolveInside(root, relative);
        String uri = p.toUri().toString();
        return relative.isEmpty() && !uri.endsWith("/") ? uri + "/" : uri;
    }

    /** The Iceberg table, refreshed; for listing snapshots and files. */
    public Table table(TallyTable t) {
        Table table = catalog.loadTable(identifier(t));
        table.refresh();
        return table;
    }

    /** Reads the manifest and makes both tables' files of this data directory equal its parts. */
    public List<SyncReport> sync() throws IOException {
        return sync(Manifest.read(dataDir.resolve(SegmentFiles.MANIFEST_FILE)));
    }

    /** Makes both tables' files of this data directory equal {@code manifest}'s parts. */
    public List<SyncReport> sync(Manifest manifest) {
        lock.lock();
        try {
            Table events = table(TallyTable.EVENTS);
            Table rollups = table(TallyTable.ROLLUPS);
            Plan pe = plan(TallyTable.EVENTS, events, manifest);
            Plan pr = plan(TallyTable.ROLLUPS, rollups, manifest);
            crash.at(CatalogCrashPoint.PLANNED);
            SyncReport re = commit(TallyTable.EVENTS, events, pe, manifest);
            crash.at(CatalogCrashPoint.EVENTS_COMMITTED);
            SyncReport rr = commit(TallyTable.ROLLUPS, rollups, pr, manifest);
            crash.at(CatalogCrashPoint.COMMITTED);
            return List.of(re, rr);
        } finally {
            lock.unlock();
        }
    }

    /** Compares both tables with the manifest on disk; changes nothing. */
    public List<CatalogCheck> check() throws IOException {
        return check(Manifest.read(dataDir.resolve(SegmentFiles.MANIFEST_FILE)));
    }

    /** Compares both tables with {@code manifest}; changes nothing. */
    public List<CatalogCheck> check(Manifest manifest) {
        lock.lock();
        try {
            List<CatalogCheck> out = new ArrayList<>();
            for (TallyTable t : TallyTable.values()) {
                Plan p = plan(t, table(t), manifest);
                List<String> mismatched = new ArrayList<>();
                p.replace.stream().filter(f -> !p.duplicated.contains(f.location()))
                        .forEach(f -> mismatched.add(f.location()));
                out.add(new CatalogCheck(t, p.expected, p.registered, p.add.stream().map(this::location).toList(),
                        p.remove.stream().map(DataFile::location).toList(), p.duplicated, mismatched));
            }
            return out;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Expires snapshots older than the configured retention (keeping the newest
     * {@link CatalogSettings#snapshotsKept()}), and deletes the metadata files only they used.
     * Never deletes a data file: parts belong to the store, which deletes them itself.
     *
     * @return snapshots expired, both tables together
     */
    public int expireSnapshots(Instant now) {
        lock.lock();
        try {
            int expired = 0;
            long olderThan = now.minus(settings.snapshotRetention()).toEpochMilli();
            for (TallyTable t : TallyTable.values()) {
                Table table = table(t);
                String metadataRoot = table.location().endsWith("/") ? table.location() : table.location() + "/";
                int before = count(table.snapshots());
                table.expireSnapshots()
                        .expireOlderThan(olderThan)
                        .retainLast(settings.snapshotsKept())
                        .deleteWith(path -> {
                            // Only the table's own metadata; a data file (a part, of any worker) is never ours to delete.
                            if (path.startsWith(metadataRoot)) {
                                table.io().deleteFile(path);
                            }
                        })
                        .commit();
                table.refresh();
                expired += Math.max(0, before - count(table.snapshots()));
            }
            if (expired > 0) {
                log.info("catalog: expired {} snapshots older than {}", expired, settings.snapshotRetention());
            }
            return expired;
        } finally {
            lock.unlock();
        }
    }

    private static int count(Iterable<Snapshot> snapshots) {
        int n = 0;
        for (Snapshot ignored : snapshots) {
            n++;
        }
        return n;
    }

    /** The differences between one table and the manifest. */
    private record Plan(List<SealedPart> add, List<DataFile> remove, List<DataFile> replace, List<String> duplicated,
            int expected, int registered) {
    }

    private Plan plan(TallyTable t, Table table, Manifest manifest) {
        Map<String, SealedPart> expected = new LinkedHashMap<>();
        for (SealedPart p : manifest.parts(t.kind())) {
            expected.put(location(p), p);
        }
        Map<String, DataFile> registered = new LinkedHashMap<>();
        TreeSet<String> duplicated = new TreeSet<>();
        for (DataFile f : currentFiles(table)) {
            if (registered.putIfAbsent(f.location(), f) != null) {
                duplicated.add(f.location());
            }
        }
        List<SealedPart> add = new ArrayList<>();
        List<DataFile> remove = new ArrayList<>();
        List<DataFile> replace = new ArrayList<>();
        expected.forEach((loc, p) -> {
            DataFile f = registered.get(loc);
            if (f == null) {
                add.add(p);
            } else if (f.fileSizeInBytes() != p.bytes() || f.recordCount() != p.rows() || duplicated.contains(loc)) {
                // Deleting a location takes out every entry of it; the file is then added back once.
                replace.add(f);
            }
        });
        registered.forEach((loc, f) -> {
            if (!expected.containsKey(loc)) {
                remove.add(f);
            }
        });
        return new Plan(add, remove, replace, List.copyOf(duplicated), expected.size(), registered.size());
    }

    /** The current snapshot's data files under this data directory (another worker's are not ours). */
    private List<DataFile> currentFiles(Table table) {
        List<DataFile> out = new ArrayList<>();
        if (table.currentSnapshot() == null) {
            return out;
        }
        try (CloseableIterable<FileScanTask> tasks = table.newScan().ignoreResiduals().planFiles()) {
            for (FileScanTask task : tasks) {
                if (task.file().location().startsWith(prefix)) {
                    out.add(task.file().copyWithoutStats());
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out;
    }

    private SyncReport commit(TallyTable t, Table table, Plan plan, Manifest manifest) {
        int removed = plan.remove.size() + plan.replace.size();
        int added = plan.add.size() + plan.replace.size();
        if (added == 0 && removed == 0) {
            return new SyncReport(t, 0, 0, -1);
        }
        OverwriteFiles op = table.newOverwrite();
        List<DataFile> gone = new ArrayList<>(plan.remove);
        gone.addAll(plan.replace);
        gone.forEach(op::deleteFile);
        for (SealedPart p : plan.add) {
            op.addFile(PartFiles.dataFile(t, table, p, location(p)));
        }
        Map<String, SealedPart> byLocation = new HashMap<>();
        manifest.parts(t.kind()).forEach(p -> byLocation.put(location(p), p));
        for (DataFile f : plan.replace) {
            op.addFile(PartFiles.dataFile(t, table, byLocation.get(f.location()), f.location()));
        }
        op.set(SUMMARY_DATA_DIR, prefix);
        op.set(SUMMARY_LAST_SEQ, Long.toString(manifest.lastSeq()));
        op.commit();
        Snapshot s = table.currentSnapshot();
        log.info("catalog: {} +{} -{} files (snapshot {})", t.tableName(), added, removed, s.snapshotId());
        return new SyncReport(t, added, removed, s.snapshotId());
    }

    private TableIdentifier identifier(TallyTable t) {
        return TableIdentifier.of(Namespace.of(settings.namespace()), t.tableName());
    }

    private void loadOrCreate(TallyTable t) {
        Namespace ns = Namespace.of(settings.namespace());
        if (!catalog.namespaceExists(ns)) {
            try {
                catalog.createNamespace(ns);
            } catch (AlreadyExistsException e) {
                // another worker created it first
            }
        }
        TableIdentifier id = identifier(t);
        Table table;
        try {
            table = catalog.loadTable(id);
        } catch (NoSuchTableException e) {
            table = create(t, id);
        }
        PartFiles.checkSchema(t, table);
    }

    /**
     * Creates the table in one transaction with every partition spec a part may need: day of the
     * UTC time column (the default: a sealed part is one UTC day), month (a compacted rollup part is
     * one UTC month) for rollups, and none (a compacted detail part is one ISO week, which no
     * Iceberg transform names) for detail.
     */
    private Table create(TallyTable t, TableIdentifier id) {
        PartitionSpec day = PartitionSpec.builderFor(t.schema()).day(t.timeColumn()).build();
        Map<String, String> props = new HashMap<>();
        props.put(TableProperties.FORMAT_VERSION, "2");
        // Several workers commit to one table: retry a lost race on a fresh base rather than fail the pass.
        props.put(TableProperties.COMMIT_NUM_RETRIES, "20");
        props.put(TableProperties.COMMIT_MIN_RETRY_WAIT_MS, "20");
        props.put(TableProperties.COMMIT_MAX_RETRY_WAIT_MS, "2000");
        props.put(TableProperties.METADATA_DELETE_AFTER_COMMIT_ENABLED, "true");
        props.put(TableProperties.METADATA_PREVIOUS_VERSIONS_MAX, "50");
        // Engines must not compact or rewrite the store's files: they are registered, not owned.
        props.put("tally.registered-parts", "true");
        try {
            Transaction tx = catalog.buildTable(id, t.schema()).withPartitionSpec(day).withProperties(props)
                    .createTransaction();
            String dayField = day.fields().get(0).name();
            if (t == TallyTable.ROLLUPS) {
                tx.updateSpec().removeField(dayField).addField(Expressions.month(t.timeColumn())).commit();
            } else {
                tx.updateSpec().removeField(dayField).commit();
            }
            // Back to day as the default spec; Iceberg reuses the first spec (same field id) for it.
            if (t == TallyTable.ROLLUPS) {
                tx.updateSpec().removeField(Expressions.month(t.timeColumn()))
                        .addField(Expressions.day(t.timeColumn())).commit();
            } else {
                tx.updateSpec().addField(Expressions.day(t.timeColumn())).commit();
            }
            tx.commitTransaction();
            log.info("catalog: created table {}", id);
        } catch (AlreadyExistsException e) {
            log.info("catalog: table {} was created by another worker", id);
        }
        return catalog.loadTable(id);
    }

    @Override
    public void close() {
        lock.lock();
        try {
            closeQuietly(catalog);
        } finally {
            lock.unlock();
        }
    }

    private static void closeQuietly(JdbcCatalog c) {
        try {
            c.close();
        } catch (Exception e) {
            log.warn("catalog: close failed: {}", e.toString());
        }
    }
}
