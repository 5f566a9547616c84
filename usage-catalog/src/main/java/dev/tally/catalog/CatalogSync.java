package dev.tally.catalog;

import dev.tally.store.internal.Manifest;
import dev.tally.store.internal.SealedPart;
import dev.tally.store.internal.SegmentFiles;
import dev.tally.store.io.FileSync;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Function;
import java.util.function.Supplier;
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
import org.apache.iceberg.exceptions.CommitFailedException;
import org.apache.iceberg.exceptions.CommitStateUnknownException;
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
 * Iceberg's optimistic commit ({@code commit.retry.num-retries}) on a fresh base. On an SQLite
 * catalog the writers of all processes also take turns on a lock file beside the database
 * ({@link CatalogLock}), since SQLite refuses a second writer rather than queueing it, and every
 * turn (and every read) uses a connection opened for it and closed after: Iceberg's JDBC client
 * can leave a read open on a pooled connection, and an SQLite connection whose read began before
 * another process's commit can never write again ({@code SQLITE_BUSY_SNAPSHOT}). A sync that
 * still fails on a lock or a lost commit race is planned and committed again, a few times with a
 * growing pause ({@link #SYNC_ATTEMPTS}): re-planning is safe because a sync reconciles.
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
    /** The long-lived client of a PostgreSQL catalog; null for SQLite, which opens one per use. */
    private final JdbcCatalog catalog;
    /** Opens and initializes a new client. */
    private final Supplier<JdbcCatalog> factory;
    private final CatalogCrashPoint crash;
    /** Writers' turn on an SQLite catalog file; null for PostgreSQL, whose commits are optimistic. */
    private final CatalogLock writeLock;
    private final ReentrantLock lock = new ReentrantLock();

    /** Attempts of one sync (plan and commit) when the catalog is locked or a commit lost its race. */
    static final int SYNC_ATTEMPTS = 6;
    /** Pause before the second attempt; doubled for each further one, plus up to half again at random. */
    private static final long RETRY_BASE_MILLIS = 100;
    /** How long a sync waits for its turn on an SQLite catalog before it fails (and the next pass tries again). */
    static final Duration LOCK_TIMEOUT = Duration.ofSeconds(60);
    /** SQLite waits this long for another connection's lock (a reader such as Spark, or a writer without our lock). */
    static final int SQLITE_BUSY_TIMEOUT_MS = 30_000;

    private CatalogSync(Path dataDir, CatalogSettings settings, JdbcCatalog catalog, Supplier<JdbcCatalog> factory,
            CatalogCrashPoint crash, CatalogLock writeLock) {
        this.dataDir = dataDir;
        this.prefix = location(dataDir, "");
        this.settings = settings;
        this.catalog = catalog;
        this.factory = factory;
        this.crash = crash;
        this.writeLock = writeLock;
    }

    /** Opens the catalog for the store in {@code dataDir}, creating the namespace and tables if missing. */
    public static CatalogSync open(Path dataDir, CatalogSettings settings) throws IOException {
        return open(dataDir, settings, CatalogCrashPoint.NONE);
    }

    /** {@link #open(Path, CatalogSettings)} with a crash seam, for tests. */
    public static CatalogSync open(Path dataDir, CatalogSettings settings, CatalogCrashPoint crash) throws IOException {
        Path root = dataDir.toAbsolutePath().normalize();
        CatalogLock writeLock = null;
        if (settings.sqlite()) {
            Path db = Path.of(settings.uri().substring("jdbc:sqlite:".length()).replaceFirst("\\?.*$", ""))
                    .toAbsolutePath();
            if (db.getParent() != null && !Files.isDirectory(db.getParent())) {
                Files.createDirectories(db.getParent());
                FileSync.fsyncDirectory(db.getParent().getParent());
            }
            writeLock = CatalogLock.beside(db, LOCK_TIMEOUT);
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
        if (settings.sqlite()) {
            // Readers (Spark, the catalog command) neither block a commit nor fail on one: WAL lets
            // them read the last commit meanwhile, and the busy timeout covers the moments SQLite
            // still locks. A setting in the URL's query string wins.
            String query = settings.uri().contains("?") ? settings.uri().substring(settings.uri().indexOf('?')) : "";
            if (!query.contains("busy_timeout")) {
                props.put("jdbc.busy_timeout", Integer.toString(SQLITE_BUSY_TIMEOUT_MS));
            }
            if (!query.contains("journal_mode")) {
                props.put("jdbc.journal_mode", "WAL");
            }
        }
        LocalFileIO io = new LocalFileIO(crash);
        RuntimeException last = null;
        Supplier<JdbcCatalog> factory = () -> {
            JdbcCatalog c = new JdbcCatalog(p -> io, p -> new JdbcClientPool(settings.uri(), p), true);
            try {
                c.initialize(settings.catalogName(), props);
            } catch (RuntimeException e) {
                closeQuietly(c);
                throw e;
            }
            return c;
        };
        for (int attempt = 1; attempt <= OPEN_ATTEMPTS; attempt++) {
            JdbcCatalog catalog = null;
            try (CatalogLock.Held turn = turn(writeLock)) {
                // initialize creates the catalog's own tables when missing: a write, so in turn.
                catalog = factory.get();
                CatalogSync sync = new CatalogSync(root, settings, settings.sqlite() ? null : catalog, factory, crash,
                        writeLock);
                for (TallyTable t : TallyTable.values()) {
                    sync.loadOrCreate(catalog, t);
                }
                if (settings.sqlite()) {
                    closeQuietly(catalog);
                }
                return sync;
            } catch (IOException e) {
                closeQuietly(catalog);
                throw e;
            } catch (RuntimeException e) {
                // Workers starting together race to create (or upgrade) the catalog's own tables and
                // ours; the loser finds them made on a second try.
                closeQuietly(catalog);
                last = e;
                if (attempt < OPEN_ATTEMPTS) {
                    log.info("catalog: open attempt {} failed, trying again: {}", attempt, e.toString());
                    try {
                        Thread.sleep(200L * attempt);
                    } catch (InterruptedException ie) {
                        Thread.currentThread().interrupt();
                        break;
                    }
                }
            }
        }
        throw new IOException("cannot open the Iceberg catalog " + CatalogSettings.redact(settings.uri()) + ": "
                + last.getMessage(), last);
    }

    /** Tries to open the catalog before giving up (each retry waits 200 ms longer). */
    private static final int OPEN_ATTEMPTS = 4;

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

    /**
     * The Iceberg table as of now, for listing snapshots and files. On an SQLite catalog its client
     * is closed again: read it, do not refresh or commit through it.
     */
    public Table table(TallyTable t) {
        return read(c -> load(c, t));
    }

    private Table load(JdbcCatalog c, TallyTable t) {
        Table table = c.loadTable(identifier(t));
        table.refresh();
        return table;
    }

    /** Runs {@code work} on the long-lived client, or on an SQLite client opened for it. */
    private <T> T read(Function<JdbcCatalog, T> work) {
        if (catalog != null) {
            return work.apply(catalog);
        }
        JdbcCatalog c = factory.get();
        try {
            return work.apply(c);
        } finally {
            closeQuietly(c);
        }
    }

    /** Reads the manifest and makes both tables' files of this data directory equal its parts. */
    public List<SyncReport> sync() throws IOException {
        return sync(Manifest.read(dataDir.resolve(SegmentFiles.MANIFEST_FILE)));
    }

    /**
     * Makes both tables' files of this data directory equal {@code manifest}'s parts. On an SQLite
     * catalog, waits for this process's and the other processes' writers first. A locked database
     * or a lost commit race is retried (up to {@link #SYNC_ATTEMPTS} times, each logged) with a
     * fresh plan.
     *
     * @throws UncheckedIOException when the write turn does not come within {@link #LOCK_TIMEOUT}
     */
    public List<SyncReport> sync(Manifest manifest) {
        lock.lock();
        try {
            for (int attempt = 1; ; attempt++) {
                try (CatalogLock.Held turn = turn(writeLock)) {
                    crash.at(CatalogCrashPoint.LOCKED);
                    return read(c -> syncOnce(c, manifest));
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                } catch (RuntimeException e) {
                    if (attempt >= SYNC_ATTEMPTS || !retryable(e)) {
                        throw e;
                    }
                    long pause = RETRY_BASE_MILLIS << (attempt - 1);
                    pause += ThreadLocalRandom.current().nextLong(pause / 2 + 1);
                    log.warn("catalog: sync attempt {} of {} failed ({}); planning again in {} ms", attempt,
                            SYNC_ATTEMPTS, e.toString(), pause);
                    try {
                        Thread.sleep(pause);
                    } catch (InterruptedException ie) {
                        Thread.currentThread().interrupt();
                        throw e;
                    }
                }
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * Whether a failed sync may be planned and committed again: SQLite was locked (another
     * process's writer, or a reader, outlasted the busy timeout), or Iceberg's own commit retries
     * lost every race, or the commit's outcome is unknown. The new plan starts from what the
     * catalog holds then, so a commit that did land is not repeated.
     */
    static boolean retryable(Throwable e) {
        for (Throwable c = e; c != null; c = c.getCause()) {
            if (c instanceof CommitFailedException || c instanceof CommitStateUnknownException) {
                return true;
            }
            if (c instanceof SQLException sql && (sql.getErrorCode() == 5 || sql.getErrorCode() == 6)) {
                return true; // SQLITE_BUSY, SQLITE_LOCKED
            }
            String m = c.getMessage();
            if (m != null && (m.contains("database is locked") || m.contains("SQLITE_BUSY"))) {
                return true;
            }
        }
        return false;
    }

    private static CatalogLock.Held turn(CatalogLock writeLock) throws IOException {
        return writeLock == null ? () -> { } : writeLock.acquire();
    }

    private List<SyncReport> syncOnce(JdbcCatalog c, Manifest manifest) {
        Table events = load(c, TallyTable.EVENTS);
        Table rollups = load(c, TallyTable.ROLLUPS);
        Plan pe = plan(TallyTable.EVENTS, events, manifest);
        Plan pr = plan(TallyTable.ROLLUPS, rollups, manifest);
        crash.at(CatalogCrashPoint.PLANNED);
        SyncReport re = commit(TallyTable.EVENTS, events, pe, manifest);
        crash.at(CatalogCrashPoint.EVENTS_COMMITTED);
        SyncReport rr = commit(TallyTable.ROLLUPS, rollups, pr, manifest);
        crash.at(CatalogCrashPoint.COMMITTED);
        return List.of(re, rr);
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
                Plan p = plan(t, read(c -> load(c, t)), manifest);
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
        try (CatalogLock.Held turn = turn(writeLock)) {
            return read(c -> expire(c, now));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            lock.unlock();
        }
    }

    private int expire(JdbcCatalog c, Instant now) {
        int expired = 0;
        long olderThan = now.minus(settings.snapshotRetention()).toEpochMilli();
        for (TallyTable t : TallyTable.values()) {
            Table table = load(c, t);
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

    private void loadOrCreate(JdbcCatalog catalog, TallyTable t) {
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
            table = create(catalog, t, id);
        }
        PartFiles.checkSchema(t, table);
    }

    /**
     * Creates the table in one transaction with every partition spec a part may need: day of the
     * UTC time column (the default: a sealed part is one UTC day), month (a compacted rollup part is
     * one UTC month) for rollups, and none (a compacted detail part is one ISO week, which no
     * Iceberg transform names) for detail.
     */
    private static Table create(JdbcCatalog catalog, TallyTable t, TableIdentifier id) {
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
            if (catalog != null) {
                closeQuietly(catalog);
            }
        } finally {
            lock.unlock();
        }
    }

    private static void closeQuietly(JdbcCatalog c) {
        if (c == null) {
            return;
        }
        try {
            c.close();
        } catch (Exception e) {
            log.warn("catalog: close failed: {}", e.toString());
        }
    }
}
