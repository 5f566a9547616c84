package dev.tally.store.verify;

import dev.tally.store.ImportPosition;
import dev.tally.store.StoreException;
import dev.tally.store.UsageStoreBuilder;
import dev.tally.store.ingest.LineReader;
import dev.tally.store.ingest.SpoolDirectory;
import dev.tally.store.UsageStore;
import dev.tally.store.read.PartFile;
import dev.tally.store.read.ReadView;
import dev.tally.store.read.Snapshot;
import dev.tally.store.read.StoreReader;
import dev.tally.store.read.TierSql;
import dev.tally.store.journal.JournalReader;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.duckdb.DuckDBConnection;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reconciles what the store holds with its sources, report-only: re-reads every source still on
 * disk (rotated and live journal files, spool files of the configured directories) and compares
 * each event with the stored event of the same tenant and id, field by field. It never writes to
 * the data directory and takes none of the store's locks, so it runs beside the daemon.
 *
 * <h2>How one run goes</h2>
 * <ol>
 *   <li>Read the dead-letter queue (and its dead file).</li>
 *   <li>Take the store snapshot ({@link Snapshot}): manifest, sealed parts pinned, segments
 *       copied consistently, opened as a report-only store of its own. Its import positions say,
 *       per source, up to which byte (the <em>consumed boundary</em>) everything is imported or
 *       dead-lettered, and the fingerprint of exactly that prefix.</li>
 *   <li>Read the dead-letter queue again (union with the first read: an entry that a concurrent
 *       replay moves into the store cannot fall between the two reads unseen).</li>
 *   <li>List the sources and stat each one (size, modification time, identity): this is "the
 *       snapshot the check started from" for the files.</li>
 *   <li>Read each file once from byte 0 on an open channel, checking its committed prefix against
 *       the position (journal: CRC32C of the 256 bytes before the boundary; spool: SHA-256 of
 *       exactly the consumed prefix, digested from the same bytes the lines are parsed from),
 *       bulk-loading every complete line into a table of the snapshot's own in-memory DuckDB;
 *       then stat the file again.</li>
 *   <li>Join the lines with every tier of the snapshot in SQL (by tenant and id), classify each
 *       line, and total per tenant and type with exact decimals.</li>
 * </ol>
 *
 * <h2>Classes</h2>
 * Per line, first match wins:
 * <ol>
 *   <li>stored: {@link VerifyClass#UNCHANGED} when type, subject, source, time (µs) and data (as
 *       parsed JSON, numbers as exact decimals) are equal, else {@link VerifyClass#CHANGED}; a key
 *       stored more than once is changed;</li>
 *   <li>in the dead-letter queue (same source family, offset and content):
 *       {@link VerifyClass#DEAD_LETTERED};</li>
 *   <li>beyond the consumed boundary: {@link VerifyClass#RACED} when any of it lies past the size
 *       the file had at the start, else {@link VerifyClass#PENDING};</li>
 *   <li>before the boundary: {@link VerifyClass#INCONCLUSIVE} when the snapshot is incomplete or
 *       the boundary unknown, {@link VerifyClass#EXPIRED} when its time is before the detail
 *       retention and the rollups still count it, else {@link VerifyClass#MISSING}.</li>
 * </ol>
 * A partial last line is never read as a line and so never a difference. A file whose committed
 * prefix no longer matches (rewritten in place, truncated, replaced) is {@code changed}, whenever
 * that happened: being written during the run never turns a difference into {@code raced}.
 *
 * <h2>Parts</h2>
 * This class runs the steps and reads the store's side (the snapshot's events and rollups as
 * SQL). {@link SourceReader} lists and reads the sources, {@link DeadLetterIndex} answers "was
 * this line dead-lettered", {@link Classifier} decides the classes and builds the report. Whether
 * a file changed since its position, and which lines are consumed, pending or raced, is decided by
 * {@link dev.tally.store.ingest.PositionCheck}, the rules the importer imports by.
 *
 * <p>Not thread-safe: one {@link #run()} at a time per instance. Holds no lock of the store.
 */
public final class Verifier {
    private static final Logger log = LoggerFactory.getLogger(Verifier.class);

    /** Default most findings listed per class. */
    public static final int DEFAULT_MAX_FINDINGS = 100;
    /** Default snapshot attempts. */
    public static final int DEFAULT_SNAPSHOT_ATTEMPTS = 5;

    /** Test seams: called at fixed points of a run. Production uses {@link #NONE}. */
    interface Hooks {
        Hooks NONE = new Hooks() { };

        /** After the store snapshot is taken and the sources are listed and stat'ed, before any is read. */
        default void afterSnapshot() throws IOException {
        }

        /** After one source file was read, before it is stat'ed again. */
        default void beforeRestat(Path file) throws IOException {
        }

        /** After a segment's files were copied into the snapshot, before they are checked again. */
        default void afterSegmentCopy(long seq, int attempt) throws IOException {
        }
    }

    private final Path dataDir;
    private final List<SpoolDirectory> spoolDirs;
    private final Duration detailRetention;
    private final Duration rollupRetention;
    private final Clock clock;
    private final Path tempDir;
    private final int maxLineBytes;
    private final int snapshotAttempts;
    private final Hooks hooks;
    private final Classifier.Settings classifying;

    private Verifier(Builder b) {
        this.dataDir = b.dataDir;
        this.spoolDirs = List.copyOf(b.spoolDirs);
        this.detailRetention = b.detailRetention;
        this.rollupRetention = b.rollupRetention;
        this.clock = b.clock;
        this.tempDir = b.tempDir;
        this.maxLineBytes = b.maxLineBytes;
        this.snapshotAttempts = b.snapshotAttempts;
        this.hooks = b.hooks;
        this.classifying = new Classifier.Settings(b.clock, b.detailRetention, b.rollupRetention, b.maxFindings);
    }

    /** Starts configuring a verifier of the store in {@code dataDir}. */
    public static Builder builder(Path dataDir) {
        return new Builder(dataDir);
    }

    /**
     * Configures a {@link Verifier}. The spool directories, retentions and line limit must be the
     * ones the importer and store use, or lines are judged by other rules than they were imported
     * by. Not thread-safe.
     */
    public static final class Builder {
        private final Path dataDir;
        private List<SpoolDirectory> spoolDirs = List.of();
        private Duration detailRetention = UsageStoreBuilder.DEFAULT_DETAIL_RETENTION;
        private Duration rollupRetention = UsageStoreBuilder.DEFAULT_ROLLUP_RETENTION;
        private Clock clock = Clock.systemUTC();
        private Path tempDir = Path.of(System.getProperty("java.io.tmpdir"));
        private int maxLineBytes = LineReader.DEFAULT_MAX_LINE_BYTES;
        private int maxFindings = DEFAULT_MAX_FINDINGS;
        private int snapshotAttempts = DEFAULT_SNAPSHOT_ATTEMPTS;
        private Hooks hooks = Hooks.NONE;

        private Builder(Path dataDir) {
            this.dataDir = Objects.requireNonNull(dataDir, "dataDir").toAbsolutePath().normalize();
        }

        /** The spool directories, named as the importer names them. */
        public Builder spoolDirectories(List<SpoolDirectory> dirs) {
            this.spoolDirs = List.copyOf(dirs);
            return this;
        }

        /** The spool directories as configured ({@code import.spool-dirs}): named by index, as the importer does. */
        public Builder spoolDirs(List<Path> dirs) {
            return spoolDirectories(SpoolDirectory.indexed(dirs));
        }

        /** The store's detail retention: older events may be only in the rollups. */
        public Builder detailRetention(Duration d) {
            this.detailRetention = positive("detailRetention", d);
            return this;
        }

        /** The store's rollup retention. */
        public Builder rollupRetention(Duration d) {
            this.rollupRetention = positive("rollupRetention", d);
            return this;
        }

        /** The time source for the retention cutoffs and the report; tests inject their own. */
        public Builder clock(Clock c) {
            this.clock = Objects.requireNonNull(c, "clock");
            return this;
        }

        /**
         * Where the snapshot directory is made (default {@code java.io.tmpdir}); it must not be
         * inside the data directory. On the data directory's file system, sealed parts are pinned
         * with hard links.
         */
        public Builder tempDir(Path dir) {
            this.tempDir = Objects.requireNonNull(dir, "tempDir").toAbsolutePath().normalize();
            return this;
        }

        /** The importer's line limit ({@code import.max-line-bytes}). */
        public Builder maxLineBytes(int bytes) {
            if (bytes < JournalReader.MIN_LINE_BYTES) {
                throw new IllegalArgumentException("maxLineBytes = " + bytes + " must be at least "
                        + JournalReader.MIN_LINE_BYTES);
            }
            this.maxLineBytes = bytes;
            return this;
        }

        /** Most findings listed per class; all are counted. */
        public Builder maxFindingsPerClass(int n) {
            if (n < 0) {
                throw new IllegalArgumentException("maxFindingsPerClass = " + n + " must not be negative");
            }
            this.maxFindings = n;
            return this;
        }

        /** How often to take the snapshot again when a seal or retention publishes meanwhile. */
        public Builder snapshotAttempts(int n) {
            if (n < 1) {
                throw new IllegalArgumentException("snapshotAttempts = " + n + " must be at least 1");
            }
            this.snapshotAttempts = n;
            return this;
        }

        Builder hooks(Hooks h) {
            this.hooks = Objects.requireNonNull(h, "hooks");
            return this;
        }

        public Verifier build() {
            if (tempDir.startsWith(dataDir)) {
                throw new IllegalArgumentException("tempDir = " + tempDir + " is inside the data directory "
                        + dataDir + ": verify never writes there");
            }
            return new Verifier(this);
        }

        private static Duration positive(String name, Duration d) {
            Objects.requireNonNull(d, name);
            if (d.isNegative() || d.isZero()) {
                throw new IllegalArgumentException(name + " = " + d + " must be positive");
            }
            return d;
        }
    }

    // ------------------------------------------------------------------------------------ run

    /**
     * Runs one verification.
     *
     * @throws StoreException when the data directory is not a readable store (damaged manifest,
     *                        unreadable dead-letter queue) or the snapshot's own DuckDB fails
     */
    public VerifyReport run() {
        Instant startedAt = clock.instant();
        Phases phases = new Phases(System.nanoTime());
        DeadLetterIndex dlq = new DeadLetterIndex();
        dlq.addQueue(dataDir);
        SourceReader files = new SourceReader(dataDir, spoolDirs, maxLineBytes, clock, dlq);
        try (Snapshot snap = UsageStore.builder(dataDir).detailRetention(detailRetention)
                .rollupRetention(rollupRetention).clock(clock).snapshot(tempDir, snapshotAttempts,
                        hooks::afterSegmentCopy, () -> {
                    dlq.addQueue(dataDir);
                    files.listSources();
                })) {
            VerifyReport report = execute(snap, files, startedAt, phases);
            log.info("verify of {}: {} lines in {} files in {} ms; {}", dataDir, report.events().values().stream()
                    .mapToLong(Long::longValue).sum(), report.files().size(), report.took().toMillis(),
                    report.drift() ? "DRIFT" : "no drift");
            return report;
        } catch (IOException e) {
            throw new StoreException("verify failed: " + e.getMessage(), e);
        } catch (SQLException e) {
            throw new StoreException("verify query failed: " + e.getMessage(), e);
        }
    }

    /** Reads the listed sources into the snapshot's database and classifies them against its tiers. */
    private VerifyReport execute(Snapshot snap, SourceReader files, Instant startedAt, Phases phases)
            throws IOException, SQLException {
        StoreReader store = snap.store();
        Map<String, ImportPosition> positions = snap.positions();
        long positionsWithoutFile = files.positionsWithoutFile(positions);
        phases.end("snapshot");
        hooks.afterSnapshot();
        try (ReadView view = store.acquireView(); DuckDBConnection c = store.engine().newConnection()) {
            files.readAll(c, positions, hooks);
            phases.end("read sources");
            String storeSql = storeSql(view);
            files.resolveSuspects(c, storeSql);
            Classifier cls = new Classifier(classifying, c, view, snap.info(), files.sources());
            return cls.classify(storeSql, rollupSql(view), startedAt, positionsWithoutFile, phases);
        }
    }

    /** Phase timings of one run, logged at debug, for finding where a slow run spends its time. Not thread-safe. */
    static final class Phases {
        private final long t0;
        private long lastPhase;

        Phases(long t0) {
            this.t0 = t0;
        }

        /** Logs how long the phase that ends now took. */
        void end(String name) {
            long now = System.nanoTime();
            long since = lastPhase == 0 ? t0 : lastPhase;
            lastPhase = now;
            log.debug("verify phase {}: {} ms", name, (now - since) / 1_000_000);
        }

        /** Since the run started. */
        Duration total() {
            return Duration.ofNanos(System.nanoTime() - t0);
        }
    }

    // ------------------------------------------------------------------------------------ the store's side

    /** Every tier of the snapshot as one relation of stored events ({@link TierSql}, with the time as {@code t} in µs). */
    private static String storeSql(ReadView view) {
        return TierSql.events(existing(view.detailParts(Instant.MIN, Instant.MAX)), view.segments(),
                "tenant, id, type, subject, source, epoch_us(time) AS t, data", null, null, null);
    }

    /** Parts whose file is in the snapshot (a part the manifest names but the disk lacks is left out). */
    private static List<PartFile> existing(List<? extends PartFile> parts) {
        List<PartFile> out = new ArrayList<>();
        for (PartFile p : parts) {
            // The link itself: a pinned part whose target went away must fail the query, not vanish.
            if (p != null && Files.exists(p.file(), LinkOption.NOFOLLOW_LINKS)) {
                out.add(p);
            }
        }
        return out;
    }

    /** The snapshot's rollup counts per tenant, type, subject and hour (events, not properties). */
    private static String rollupSql(ReadView view) {
        List<PartFile> rollups = existing(view.rollupParts(Instant.MIN, Instant.MAX));
        return rollups.isEmpty()
                ? "SELECT NULL::VARCHAR AS tenant, NULL::VARCHAR AS type, NULL::VARCHAR AS subject, "
                        + "NULL::BIGINT AS hour_us, 0::HUGEINT AS n WHERE false"
                : "SELECT tenant, type, subject, epoch_us(hour) AS hour_us, sum(value_count) AS n FROM "
                        + TierSql.parquet(rollups, false) + " WHERE property IS NULL GROUP BY ALL";
    }
}
