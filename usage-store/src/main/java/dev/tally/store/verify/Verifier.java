package dev.tally.store.verify;

import dev.tally.store.EventCodec;
import dev.tally.store.EventRejectedException;
import dev.tally.store.ImportPosition;
import dev.tally.store.StoreException;
import dev.tally.store.UsageEvent;
import dev.tally.store.UsageStore;
import dev.tally.store.UsageStoreBuilder;
import dev.tally.store.dlq.DeadLetter;
import dev.tally.store.dlq.DeadLetterQueue;
import dev.tally.store.ingest.JournalImporter;
import dev.tally.store.ingest.LineReader;
import dev.tally.store.ingest.PrefixFingerprint;
import dev.tally.store.ingest.QuarantineEntry;
import dev.tally.store.ingest.SpoolDirectory;
import dev.tally.store.ingest.SpoolScanner;
import dev.tally.store.read.PartFile;
import dev.tally.store.read.QuarantinedPart;
import dev.tally.store.read.ReadView;
import dev.tally.store.read.Snapshot;
import dev.tally.store.read.StoreReader;
import dev.tally.store.read.TierSql;
import dev.tally.store.engine.TimeUtil;
import dev.tally.store.journal.JournalFiles;
import dev.tally.store.journal.JournalReadResult;
import dev.tally.store.journal.JournalReader;
import dev.tally.store.journal.JournalRecord;
import dev.tally.store.journal.JournalSource;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.ReadableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import org.duckdb.DuckDBAppender;
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
 * <p>Not thread-safe: one {@link #run()} at a time per instance. Holds no lock of the store.
 */
public final class Verifier {
    private static final Logger log = LoggerFactory.getLogger(Verifier.class);

    /** Default most findings listed per class. */
    public static final int DEFAULT_MAX_FINDINGS = 100;
    /** Default snapshot attempts. */
    public static final int DEFAULT_SNAPSHOT_ATTEMPTS = 5;
    private static final int JOURNAL_BATCH = 8_192;
    private static final long HOUR_MICROS = 3_600_000_000L;
    private static final String SRC = "verify_src";
    private static final String EXPIRED = "verify_expired";

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
    private final int maxFindings;
    private final int snapshotAttempts;
    private final Hooks hooks;

    private Verifier(Builder b) {
        this.dataDir = b.dataDir;
        this.spoolDirs = List.copyOf(b.spoolDirs);
        this.detailRetention = b.detailRetention;
        this.rollupRetention = b.rollupRetention;
        this.clock = b.clock;
        this.tempDir = b.tempDir;
        this.maxLineBytes = b.maxLineBytes;
        this.maxFindings = b.maxFindings;
        this.snapshotAttempts = b.snapshotAttempts;
        this.hooks = b.hooks;
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
        long t0 = System.nanoTime();
        DeadLetterIndex dlq = new DeadLetterIndex();
        dlq.addQueue(dataDir);
        Run run = new Run(dlq, startedAt);
        try (Snapshot snap = UsageStore.builder(dataDir).detailRetention(detailRetention)
                .rollupRetention(rollupRetention).clock(clock).snapshot(tempDir, snapshotAttempts,
                        hooks::afterSegmentCopy, () -> {
                    dlq.addQueue(dataDir);
                    run.listSources();
                })) {
            VerifyReport report = run.execute(snap, t0);
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

    /** One run's state. Confined to the calling thread. */
    private final class Run {
        private final DeadLetterIndex dlq;
        private final Instant startedAt;
        private Snapshot snap;
        private StoreReader store;
        private Map<String, ImportPosition> positions;
        private final List<Source> sources = new ArrayList<>();
        private long positionsWithoutFile;
        private long ord;

        Run(DeadLetterIndex dlq, Instant startedAt) {
            this.dlq = dlq;
            this.startedAt = startedAt;
        }

        VerifyReport execute(Snapshot snapshot, long t0) throws IOException, SQLException {
            this.snap = snapshot;
            this.store = snapshot.store();
            this.positions = snapshot.positions();
            countPositionsWithoutFile();
            phase("snapshot", t0);
            hooks.afterSnapshot();
            try (ReadView view = store.acquireView(); DuckDBConnection c = store.engine().newConnection()) {
                try (Statement s = c.createStatement()) {
                    s.execute("CREATE TABLE " + SRC + " (ord BIGINT, file_idx INTEGER, start_off BIGINT, "
                            + "end_off BIGINT, zone TINYINT, damaged BOOLEAN, dlq BOOLEAN, tenant VARCHAR, id VARCHAR, type VARCHAR, "
                            + "subject VARCHAR, source VARCHAR, time_us BIGINT, data VARCHAR, note VARCHAR)");
                }
                try (DuckDBAppender ap = c.createAppender("memory", "main", SRC)) {
                    for (Source src : sources) {
                        read(src, ap);
                        hooks.beforeRestat(src.openedPath != null ? src.openedPath : src.path);
                        restat(src);
                    }
                    ap.flush();
                }
                phase("read sources", t0);
                String storeSql = storeSql(view);
                resolveSuspects(c, storeSql);
                Classifier cls = new Classifier(c, view, storeSql);
                return cls.classify(t0);
            }
        }

        // ---------------------------------------------------------------- listing

        private long lastPhase;

        /** Logs how long a phase took (debug), for finding where a slow run spends its time. */
        private void phase(String name, long t0) {
            long now = System.nanoTime();
            long since = lastPhase == 0 ? t0 : lastPhase;
            lastPhase = now;
            log.debug("verify phase {}: {} ms", name, (now - since) / 1_000_000);
        }

        /** Lists and stats every source: right after the store snapshot, before its copies are opened. */
        void listSources() throws IOException {
            JournalReader reader = new JournalReader(dataDir);
            for (JournalSource js : reader.sources()) {
                Source s = new Source(sources.size(), "journal", JournalImporter.DEAD_LETTER_PREFIX + js.name(),
                        js.path(), JournalImporter.positionKey(js));
                s.live = js.live();
                s.identity = js.identity();
                Stat st = Stat.journal(js.path());
                if (st != null && st.identity.equals(js.identity())) {
                    s.stat0 = st;
                } else {
                    // Rotated (or reaped) between the listing and the stat: only the listing's size is known.
                    s.stat0 = new Stat(js.sizeBytes(), null, js.identity());
                }
                sources.add(s);
            }
            SpoolScanner scanner = new SpoolScanner(dataDir, spoolDirs, maxLineBytes, true, clock);
            Map<String, QuarantineEntry> quarantined = new HashMap<>();
            for (QuarantineEntry q : scanner.quarantined()) {
                quarantined.put(q.source(), q);
            }
            for (SpoolScanner.Listed l : scanner.list()) {
                Source s = new Source(sources.size(), "spool", l.source(), l.path(), l.source());
                s.stat0 = Stat.spool(l.path());
                s.quarantine = quarantined.get(l.source());
                sources.add(s);
            }
        }

        private void countPositionsWithoutFile() {
            Set<String> onDisk = new HashSet<>();
            sources.forEach(x -> onDisk.add(x.positionKey));
            if (positions != null) {
                for (String key : positions.keySet()) {
                    if ((key.startsWith(JournalImporter.SOURCE_PREFIX) || key.startsWith(SpoolScanner.SOURCE_PREFIX))
                            && !onDisk.contains(key)) {
                        positionsWithoutFile++;
                    }
                }
            }
        }

        // ---------------------------------------------------------------- reading

        private void read(Source src, DuckDBAppender ap) throws IOException, SQLException {
            if (src.stat0 == null) {
                src.removed("removed between the listing and the first stat; its lines were not read");
                return;
            }
            FileChannel ch = openStable(src);
            if (ch == null) {
                return;
            }
            try (ch) {
                if (src.kind.equals("journal")) {
                    readJournal(src, ch, ap);
                } else {
                    readSpool(src, ch, ap);
                }
            } catch (StoreException | IOException e) {
                if (e instanceof StoreException && !(e.getCause() instanceof IOException)) {
                    throw e;
                }
                src.check = "unreadable";
                src.fileClass = VerifyClass.INCONCLUSIVE;
                src.note("could not be read to the end (" + e.getMessage() + "); its remaining lines were not compared");
            }
        }

        /**
         * Opens the file the listing saw, by its identity: the name is stat'ed before and after
         * the open, and a journal that was rotated meanwhile is found again under its archive
         * name. Returns null (and records why) when it is gone.
         */
        private FileChannel openStable(Source src) throws IOException {
            List<Path> candidates = new ArrayList<>();
            candidates.add(src.path);
            if (src.kind.equals("journal")) {
                candidates.addAll(archives());
            }
            for (Path p : candidates) {
                Stat before = src.kind.equals("journal") ? Stat.journal(p) : Stat.spool(p);
                if (before == null || !before.identity.equals(src.stat0.identity)) {
                    continue;
                }
                FileChannel ch;
                try {
                    ch = FileChannel.open(p, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS);
                } catch (NoSuchFileException e) {
                    continue;
                }
                Stat after = src.kind.equals("journal") ? Stat.journal(p) : Stat.spool(p);
                if (after != null && after.identity.equals(before.identity)) {
                    if (!p.equals(src.path)) {
                        src.note("rotated to " + p.getFileName() + " after the snapshot; read under that name");
                        src.written = true;
                    }
                    src.openedPath = p;
                    return ch;
                }
                ch.close();
            }
            if (src.kind.equals("spool") && Files.exists(src.path, LinkOption.NOFOLLOW_LINKS)) {
                // Another file has the name now: read that one, and the identity check decides.
                src.openedPath = src.path;
                src.written = true;
                src.note("replaced by another file after the snapshot");
                try {
                    return FileChannel.open(src.path, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS);
                } catch (NoSuchFileException e) {
                    // gone after all
                }
            }
            src.removed("removed after the snapshot (a reaped journal archive, or a spool file deleted); "
                    + "its lines were not read");
            return null;
        }

        private List<Path> archives() throws IOException {
            List<Path> out = new ArrayList<>();
            Path dir = new JournalFiles(dataDir).journalDir();
            try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
                for (Path p : ds) {
                    if (JournalFiles.isArchiveName(p.getFileName().toString())) {
                        out.add(p);
                    }
                }
            } catch (NoSuchFileException e) {
                return out;
            }
            out.sort(null);
            return out;
        }

        private void readJournal(Source src, FileChannel ch, DuckDBAppender ap) throws IOException, SQLException {
            long size = ch.size();
            ImportPosition p = positions == null ? null : positions.get(src.positionKey);
            if (positions == null) {
                src.positionsUnknown();
            } else if (p == null) {
                src.boundary = 0;
                src.check = "not-imported";
            } else if (JournalFiles.isArchiveName(p.identity())
                    && !p.identity().equals(src.path.getFileName().toString())) {
                // Archives are never renamed: a position taken on another archive name belongs to a
                // reaped file whose inode this one reuses. The importer reads this file from 0.
                src.boundary = 0;
                src.check = "stale-position";
                src.note("its identity was last imported as " + p.identity() + ", a reaped archive whose inode "
                        + "it reuses; it is not imported yet");
            } else if (p.offset() > size) {
                src.suspect("truncated", "the file is " + size + " bytes, shorter than the " + p.offset()
                        + " bytes already imported");
                src.boundary = p.offset();
            } else {
                String fp = JournalImporter.tailFingerprint(ch, p.offset());
                src.boundary = p.offset();
                if (!fp.equals(p.fingerprint())) {
                    src.suspect("prefix-changed", "the bytes before the " + p.offset()
                            + " bytes already imported were rewritten (fingerprint " + fp + ", imported "
                            + p.fingerprint() + ")");
                }
            }
            JournalReader reader = new JournalReader(dataDir);
            Path name = src.path; // journal.wal keeps the live journal's rule for a damaged tail
            long off = 0;
            while (true) {
                JournalReadResult r = reader.read(ch, name, off, JOURNAL_BATCH, maxLineBytes);
                for (JournalRecord rec : r.records()) {
                    if (rec instanceof JournalRecord.Event e) {
                        UsageEvent ev = e.event();
                        boolean dead = dlq.journal(e.startOffset(), () -> EventCodec.toJson(ev)
                                .getBytes(StandardCharsets.UTF_8));
                        emit(ap, src, e.startOffset(), e.endOffset(), ev, dead, null);
                    } else if (rec instanceof JournalRecord.Damaged d) {
                        boolean dead = dlq.journal(d.startOffset(), d::raw);
                        emit(ap, src, d.startOffset(), d.endOffset(), null, dead, d.reason().code() + ": " + d.message());
                    }
                }
                off = r.nextOffset();
                if (r.atEnd()) {
                    break;
                }
            }
            src.bytesRead = off;
            src.tailBytes = Math.max(0, ch.size() - off);
            if (src.tailBytes > 0) {
                src.note(src.tailBytes + " bytes after the last complete record (a write in progress or a torn tail) "
                        + "were not compared");
            }
        }

        private void readSpool(Source src, FileChannel ch, DuckDBAppender ap) throws IOException, SQLException {
            long size = ch.size();
            ImportPosition p = positions == null ? null : positions.get(src.positionKey);
            String identity = PrefixFingerprint.identity(src.openedPath);
            long digestUpTo = -1;
            if (positions == null) {
                src.positionsUnknown();
            } else if (p == null) {
                src.boundary = 0;
                src.check = "not-imported";
            } else {
                src.boundary = p.offset();
                if (!p.identity().isEmpty() && !p.identity().equals(identity)) {
                    src.changed("identity-changed", "another file now has this name (identity " + identity
                            + ", imported from " + p.identity() + ")");
                } else if (size < p.offset()) {
                    src.changed("truncated", "the file is " + size + " bytes, shorter than the " + p.offset()
                            + " bytes already imported");
                } else if (p.fingerprint().isEmpty() && p.offset() > 0) {
                    src.changed("no-fingerprint", "the committed position has no fingerprint, so its " + p.offset()
                            + " imported bytes cannot be checked");
                } else {
                    digestUpTo = p.offset();
                }
            }
            if (src.quarantine != null) {
                src.note("quarantined by the importer since " + src.quarantine.quarantinedAt() + ": "
                        + src.quarantine.detail());
            }
            PrefixTee tee = new PrefixTee(ch, digestUpTo);
            try (LineReader reader = new LineReader(tee, 0, maxLineBytes, LineReader.DEFAULT_BUFFER_BYTES, null)) {
                LineReader.Line line;
                while ((line = reader.next()) != null) {
                    byte[] content = line.content();
                    UsageEvent ev = null;
                    String note = null;
                    try {
                        ev = line.parse(maxLineBytes);
                    } catch (EventRejectedException e) {
                        note = e.reason().code() + ": " + e.getMessage();
                    }
                    boolean dead = dlq.spool(src.positionKey, line.start(), content);
                    emit(ap, src, line.start(), line.end(), ev, dead, note);
                }
                src.bytesRead = reader.boundary();
                src.tailBytes = Math.max(0, tee.total() - reader.boundary());
            }
            if (src.tailBytes > 0) {
                src.note(src.tailBytes + " bytes of a partial last line were not compared");
            }
            if (digestUpTo >= 0) {
                String hex = tee.prefixHex();
                if (hex == null) {
                    src.changed("truncated", "the file ended before the " + p.offset() + " bytes already imported");
                } else if (!hex.equals(p.fingerprint())) {
                    src.changed("prefix-changed", "the first " + p.offset() + " bytes, already imported, were "
                            + "rewritten (fingerprint " + hex + ", imported " + p.fingerprint() + ")");
                }
            }
        }

        /** One complete line into the source table. */
        private void emit(DuckDBAppender ap, Source src, long start, long end, UsageEvent e, boolean dead, String note)
                throws SQLException {
            int zone;
            if (!src.boundaryKnown()) {
                zone = Zone.UNKNOWN;
            } else if (end <= src.boundary) {
                zone = Zone.CONSUMED;
            } else if (end <= src.stat0.size) {
                zone = Zone.PENDING;
            } else {
                zone = Zone.RACED;
            }
            ap.beginRow();
            ap.append(ord++);
            ap.append(src.idx);
            ap.append(start);
            ap.append(end);
            ap.append((byte) zone);
            ap.append(e == null);
            ap.append(dead);
            if (e == null) {
                for (int i = 0; i < 5; i++) {
                    ap.appendNull();
                }
                ap.appendNull();
                ap.appendNull();
            } else {
                appendNullable(ap, e.tenant());
                appendNullable(ap, e.id());
                appendNullable(ap, e.type());
                appendNullable(ap, e.subject());
                appendNullable(ap, e.source() == null || e.source().isEmpty() ? null : e.source());
                if (e.time() == null) {
                    ap.appendNull();
                } else {
                    ap.append(TimeUtil.toMicros(e.time()));
                }
                appendNullable(ap, e.data());
            }
            appendNullable(ap, note);
            ap.endRow();
        }

        private void restat(Source src) throws IOException {
            if (src.openedPath == null) {
                return;
            }
            Stat now = src.kind.equals("journal") ? Stat.journal(src.openedPath) : Stat.spool(src.openedPath);
            if (now == null) {
                src.written = true;
                src.note("removed while it was read");
            } else if (!now.identity.equals(src.stat0.identity)) {
                src.written = true;
                src.note("renamed, rotated or replaced while it was read");
            } else if (now.size != src.stat0.size || src.stat0.modified == null
                    || !now.modified.equals(src.stat0.modified)) {
                src.written = true;
                src.note("written after the snapshot (" + src.stat0.size + " bytes then, " + now.size + " now)");
            }
        }

        /**
         * A journal file whose committed position does not match it (shorter than the boundary, or
         * other bytes before it) is either rewritten or a new file that reuses the inode of a
         * reaped archive (its position key is the inode), which the importer then reads from the
         * start. It is judged changed if any of its lines is stored or dead-lettered (the position
         * did describe it); if none is, it is the new file: its lines are not imported yet.
         */
        private void resolveSuspects(DuckDBConnection c, String storeSql) throws SQLException {
            List<Source> suspects = sources.stream().filter(x -> x.suspect).toList();
            if (suspects.isEmpty()) {
                return;
            }
            StringBuilder in = new StringBuilder();
            for (Source x : suspects) {
                in.append(in.isEmpty() ? "" : ", ").append(x.idx);
            }
            Set<Integer> known = new HashSet<>();
            try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("WITH st AS (" + storeSql + ") "
                    + "SELECT DISTINCT s.file_idx FROM " + SRC + " s WHERE s.file_idx IN (" + in + ") AND (s.dlq OR "
                    + "EXISTS (SELECT 1 FROM st WHERE st.tenant = s.tenant AND st.id = s.id))")) {
                while (rs.next()) {
                    known.add(rs.getInt(1));
                }
            }
            for (Source x : suspects) {
                if (known.contains(x.idx)) {
                    x.changed(x.check, x.suspectWhy);
                    continue;
                }
                x.check = "stale-position";
                x.note("none of its lines is stored or dead-lettered, so the position belongs to an earlier file "
                        + "with the same inode (a reaped archive): it is not imported yet");
                x.boundary = 0;
                try (PreparedStatement ps = c.prepareStatement("UPDATE " + SRC + " SET zone = CASE WHEN end_off <= ? "
                        + "THEN " + Zone.PENDING + " ELSE " + Zone.RACED + " END WHERE file_idx = ?")) {
                    ps.setLong(1, x.stat0.size);
                    ps.setInt(2, x.idx);
                    ps.executeUpdate();
                }
            }
        }

        // ---------------------------------------------------------------- classification

        /** Joins the source lines with the snapshot's tiers and builds the report. */
        private final class Classifier {
            private final DuckDBConnection c;
            private final ReadView view;
            private final String storeSql;
            private final boolean complete;
            private final EnumMap<VerifyClass, Long> counts = new EnumMap<>(VerifyClass.class);
            private final EnumMap<VerifyClass, Integer> listed = new EnumMap<>(VerifyClass.class);
            private final List<EventFinding> findings = new ArrayList<>();
            private long omitted;
            private final TreeMap<String, Tally.Builder[]> totals = new TreeMap<>();

            Classifier(DuckDBConnection c, ReadView view, String storeSql) {
                this.c = c;
                this.view = view;
                this.storeSql = storeSql;
                this.complete = snap.info().complete();
            }

            VerifyReport classify(long t0) throws SQLException {
                long cutoffMicros = TimeUtil.toMicros(clock.instant().minus(detailRetention));
                long rollupCutoffMicros = TimeUtil.toMicros(clock.instant().minus(rollupRetention));
                prepareExpired(cutoffMicros);
                phase("expiry check", t0);
                String sql = "WITH st AS (" + storeSql + "), "
                        + "s AS (SELECT *, row_number() OVER (PARTITION BY tenant, id ORDER BY ord) = 1 AS first_occ "
                        + "FROM " + SRC + "), "
                        + "j AS (SELECT s.*, st.id IS NOT NULL AS stored, st.type AS st_type, st.subject AS st_subject, "
                        + "st.source AS st_source, st.t AS st_t, st.data AS st_data, "
                        + "coalesce(st.type = s.type AND st.subject = s.subject AND st.source IS NOT DISTINCT FROM s.source "
                        + "AND st.t = s.time_us AND st.data = s.data, false) AS same "
                        + "FROM s LEFT JOIN st ON st.tenant = s.tenant AND st.id = s.id) "
                        + "SELECT j.ord, j.file_idx, j.start_off, j.zone, j.damaged, j.dlq, j.tenant, j.id, j.type, "
                        + "j.subject, j.source, j.time_us, j.data, j.note, j.first_occ, j.stored, j.same, "
                        + "CASE WHEN j.same THEN NULL ELSE j.st_type END, CASE WHEN j.same THEN NULL ELSE j.st_subject END, "
                        + "CASE WHEN j.same THEN NULL ELSE j.st_source END, CASE WHEN j.same THEN NULL ELSE j.st_t END, "
                        + "CASE WHEN j.same THEN NULL ELSE j.st_data END, "
                        + "e.source_n, e.rollup_n "
                        + "FROM j LEFT JOIN " + EXPIRED + " e ON e.tenant = j.tenant AND e.type = j.type "
                        + "AND e.subject = j.subject AND e.hour_us = (j.time_us // " + HOUR_MICROS + ") * " + HOUR_MICROS
                        + " AND j.zone = " + Zone.CONSUMED + " AND NOT j.stored "
                        + "ORDER BY j.ord";
                try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
                    phase("compare query", t0);
                    List<Row> group = new ArrayList<>(2);
                    while (rs.next()) {
                        Row r = Row.of(rs);
                        if (!group.isEmpty() && group.get(0).ord != r.ord) {
                            decide(group, rollupCutoffMicros);
                            group.clear();
                        }
                        group.add(r);
                    }
                    if (!group.isEmpty()) {
                        decide(group, rollupCutoffMicros);
                    }
                }
                phase("classify and total", t0);
                long storeOnly = storeOnly();
                phase("store-only totals", t0);
                long duplicates = storeDuplicates();
                phase("duplicate keys", t0);
                List<FileReport> files = new ArrayList<>();
                for (Source src : sources) {
                    files.add(src.report());
                }
                List<TypeTotals> tt = new ArrayList<>();
                for (Map.Entry<String, Tally.Builder[]> e : totals.entrySet()) {
                    String[] k = e.getKey().split("\u0000", 2);
                    Tally.Builder[] b = e.getValue();
                    tt.add(new TypeTotals(k[0], k[1], b[0].build(), b[1].build(), b[2].build()));
                }
                Duration took = Duration.ofNanos(System.nanoTime() - t0);
                return new VerifyReport(startedAt, took, snap.info(), counts, files, tt, storeOnly, duplicates,
                        positionsWithoutFile, findings, omitted);
            }

            /**
             * For lines that may be expired (consumed, not stored, not dead-lettered, older than the
             * detail cutoff), what the sources and the rollups count per tenant, type, subject and
             * hour.
             */
            private void prepareExpired(long cutoffMicros) throws SQLException {
                List<PartFile> rollups = existing(view.rollupParts(Instant.MIN, Instant.MAX));
                String roll = rollups.isEmpty()
                        ? "SELECT NULL::VARCHAR AS tenant, NULL::VARCHAR AS type, NULL::VARCHAR AS subject, "
                                + "NULL::BIGINT AS hour_us, 0::HUGEINT AS n WHERE false"
                        : "SELECT tenant, type, subject, epoch_us(hour) AS hour_us, sum(value_count) AS n FROM "
                                + TierSql.parquet(rollups, false) + " WHERE property IS NULL GROUP BY ALL";
                String sql = "CREATE TABLE " + EXPIRED + " AS WITH st AS (" + storeSql + "), "
                        + "cand AS (SELECT s.tenant, s.type, s.subject, (s.time_us // " + HOUR_MICROS + ") * "
                        + HOUR_MICROS + " AS hour_us, count(*) AS n FROM " + SRC + " s WHERE s.zone = " + Zone.CONSUMED
                        + " AND NOT s.dlq AND NOT s.damaged AND s.time_us < " + cutoffMicros
                        + " AND s.tenant IS NOT NULL AND s.id IS NOT NULL AND s.type IS NOT NULL AND s.subject IS NOT NULL "
                        + "AND NOT EXISTS (SELECT 1 FROM st WHERE st.tenant = s.tenant AND st.id = s.id) GROUP BY ALL), "
                        + "roll AS (" + roll + ") "
                        + "SELECT c.tenant, c.type, c.subject, c.hour_us, c.n AS source_n, coalesce(r.n, 0) AS rollup_n "
                        + "FROM cand c LEFT JOIN roll r ON r.tenant = c.tenant AND r.type = c.type "
                        + "AND r.subject = c.subject AND r.hour_us = c.hour_us";
                try (Statement s = c.createStatement()) {
                    try (ResultSet rs = s.executeQuery("SELECT count(*) FROM " + SRC + " WHERE zone = " + Zone.CONSUMED
                            + " AND time_us < " + cutoffMicros)) {
                        rs.next();
                        if (rs.getLong(1) == 0) {
                            s.execute("CREATE TABLE " + EXPIRED + " (tenant VARCHAR, type VARCHAR, subject VARCHAR, "
                                    + "hour_us BIGINT, source_n BIGINT, rollup_n HUGEINT)");
                            return;
                        }
                    }
                    s.execute(sql);
                }
            }

            /** Classifies one source line (several rows when its key is stored more than once). */
            private void decide(List<Row> rows, long rollupCutoffMicros) {
                Row r = rows.get(0);
                Source src = sources.get(r.fileIdx);
                VerifyClass verdict;
                String detail = "";
                List<EventFinding.FieldDifference> diffs = List.of();
                if (r.stored) {
                    if (rows.size() > 1) {
                        verdict = VerifyClass.CHANGED;
                        detail = "stored " + rows.size() + " times; a tenant and id must be stored once";
                    } else {
                        diffs = differences(r);
                        verdict = diffs.isEmpty() ? VerifyClass.UNCHANGED : VerifyClass.CHANGED;
                        if (!diffs.isEmpty()) {
                            detail = "the stored event differs from the source in "
                                    + String.join(", ", diffs.stream().map(EventFinding.FieldDifference::field).toList());
                        }
                    }
                    if (verdict == VerifyClass.UNCHANGED && !r.firstOcc) {
                        detail = "a repeat of an earlier line with the same tenant and id";
                    } else if (verdict == VerifyClass.CHANGED && !r.firstOcc) {
                        detail = "a repeat of an earlier line with the same tenant and id, with other values (the first "
                                + "one is stored): " + detail;
                    }
                } else if (r.dlq) {
                    verdict = VerifyClass.DEAD_LETTERED;
                    detail = r.damaged ? "refused on import (" + r.note + ")" : "refused on import";
                } else if (r.zone == Zone.PENDING) {
                    verdict = VerifyClass.PENDING;
                    detail = "beyond the consumed boundary (byte " + src.boundary + "): not imported yet";
                } else if (r.zone == Zone.RACED) {
                    verdict = VerifyClass.RACED;
                    detail = "written after the snapshot (the file had " + src.stat0.size + " bytes then)";
                } else if (r.zone == Zone.UNKNOWN) {
                    verdict = VerifyClass.INCONCLUSIVE;
                    detail = "not in the snapshot, and the consumed boundary is unknown";
                } else if (!complete) {
                    verdict = VerifyClass.INCONCLUSIVE;
                    detail = "consumed, not dead-lettered, and not in the snapshot, which is incomplete: "
                            + String.join("; ", snap.info().problems());
                } else if (r.damaged) {
                    verdict = VerifyClass.MISSING;
                    detail = "consumed, but not an intact event now (" + r.note + ") and not in the dead-letter queue: "
                            + "damaged after import, or its dead letter was lost";
                } else if (r.sourceN != null) {
                    long hour = Math.floorDiv(r.timeUs, HOUR_MICROS) * HOUR_MICROS;
                    if (r.rollupN >= r.sourceN) {
                        verdict = VerifyClass.EXPIRED;
                        detail = "older than the detail retention; the rollups count " + r.rollupN + " events for its "
                                + "tenant, type, subject and hour";
                    } else if (r.rollupN == 0 && hour < rollupCutoffMicros) {
                        verdict = VerifyClass.EXPIRED;
                        detail = "older than the detail and the rollup retention";
                    } else {
                        verdict = VerifyClass.MISSING;
                        detail = "older than the detail retention, and the rollups count only " + r.rollupN
                                + " events for its tenant, type, subject and hour where the sources have " + r.sourceN;
                    }
                } else {
                    verdict = VerifyClass.MISSING;
                    detail = "consumed by the import (before byte " + src.boundary + "), but neither stored nor "
                            + "dead-lettered" + quarantinedPart(r.timeUs);
                }
                counts.merge(verdict, 1L, Long::sum);
                src.counts.merge(verdict, 1L, Long::sum);
                if (verdict != VerifyClass.UNCHANGED) {
                    int n = listed.getOrDefault(verdict, 0);
                    if (n < maxFindings) {
                        listed.put(verdict, n + 1);
                        findings.add(new EventFinding(verdict, src.name, r.start, r.tenant, r.id, detail, diffs));
                    } else {
                        omitted++;
                    }
                }
                if (r.firstOcc && r.tenant != null && r.id != null && r.type != null
                        && (verdict == VerifyClass.UNCHANGED || verdict == VerifyClass.CHANGED
                                || verdict == VerifyClass.MISSING)) {
                    Map<String, java.math.BigDecimal> numbers = new HashMap<>(8);
                    JsonData.addTopLevelNumbers(r.data, numbers);
                    tally(r.tenant, r.type)[0].add(numbers);
                    for (Row x : rows) {
                        if (x.same) {
                            tally(x.tenant, x.type)[1].add(numbers); // the very same text
                        } else if (x.stored) {
                            tally(x.tenant, x.stType)[1].add(x.stData);
                        }
                    }
                }
            }

            /** ", in the time range of quarantined part X" when a damaged detail part may have held it. */
            private String quarantinedPart(Long timeUs) {
                if (timeUs == null) {
                    return "";
                }
                Instant t = TimeUtil.fromMicros(timeUs);
                for (QuarantinedPart q : view.quarantined()) {
                    if (!q.part().rollup() && !t.isBefore(q.part().minTime())
                            && !t.isAfter(q.part().maxTime())) {
                        return "; its time falls in the quarantined part " + q.part().path() + " (" + q.reason() + ")";
                    }
                }
                return "";
            }

            private Tally.Builder[] tally(String tenant, String type) {
                return totals.computeIfAbsent(tenant + '\u0000' + type,
                        k -> new Tally.Builder[] {new Tally.Builder(), new Tally.Builder(), new Tally.Builder()});
            }

            private List<EventFinding.FieldDifference> differences(Row r) {
                if (r.same) {
                    return List.of();
                }
                List<EventFinding.FieldDifference> d = new ArrayList<>();
                if (!Objects.equals(r.type, r.stType)) {
                    d.add(new EventFinding.FieldDifference("type", r.type, r.stType));
                }
                if (!Objects.equals(r.subject, r.stSubject)) {
                    d.add(new EventFinding.FieldDifference("subject", r.subject, r.stSubject));
                }
                if (!Objects.equals(r.source, r.stSource)) {
                    d.add(new EventFinding.FieldDifference("source", r.source, r.stSource));
                }
                if (!Objects.equals(r.timeUs, r.stT)) {
                    d.add(new EventFinding.FieldDifference("time", time(r.timeUs), time(r.stT)));
                }
                if (!JsonData.equal(r.data, r.stData)) {
                    d.add(new EventFinding.FieldDifference("data", r.data, r.stData));
                }
                return d;
            }

            /** Stored events with no source line: totals by tenant and type, and the count. */
            private long storeOnly() throws SQLException {
                long n = 0;
                String sql = "WITH st AS (" + storeSql + ") SELECT st.tenant, st.type, st.data FROM st "
                        + "WHERE NOT EXISTS (SELECT 1 FROM " + SRC + " s WHERE s.tenant = st.tenant AND s.id = st.id)";
                try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
                    while (rs.next()) {
                        tally(rs.getString(1), rs.getString(2))[2].add(rs.getString(3));
                        n++;
                    }
                }
                return n;
            }

            private long storeDuplicates() throws SQLException {
                String sql = "WITH st AS (" + storeSql + ") SELECT count(*) FROM (SELECT tenant, id FROM st "
                        + "GROUP BY tenant, id HAVING count(*) > 1)";
                try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
                    rs.next();
                    return rs.getLong(1);
                }
            }
        }
    }

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

    private static void appendNullable(DuckDBAppender ap, String s) throws SQLException {
        if (s == null) {
            ap.appendNull();
        } else {
            ap.append(s);
        }
    }

    private static String time(Long micros) {
        return micros == null ? null : EventCodec.formatTime(TimeUtil.fromMicros(micros));
    }

    /** Where a line lies relative to its file's consumed boundary and its size at the start. */
    private static final class Zone {
        static final int CONSUMED = 0;
        static final int PENDING = 1;
        static final int RACED = 2;
        static final int UNKNOWN = 3;

        private Zone() {
        }
    }

    /** One row of the classification query. */
    private record Row(long ord, int fileIdx, long start, int zone, boolean damaged, boolean dlq, String tenant,
            String id, String type, String subject, String source, Long timeUs, String data, String note,
            boolean firstOcc, boolean stored, boolean same, String stType, String stSubject, String stSource,
            Long stT, String stData, Long sourceN, Long rollupN) {

        static Row of(ResultSet rs) throws SQLException {
            return new Row(rs.getLong(1), rs.getInt(2), rs.getLong(3), rs.getInt(4), rs.getBoolean(5), rs.getBoolean(6),
                    rs.getString(7), rs.getString(8), rs.getString(9), rs.getString(10), rs.getString(11),
                    nullableLong(rs, 12), rs.getString(13), rs.getString(14), rs.getBoolean(15), rs.getBoolean(16),
                    rs.getBoolean(17), rs.getString(18), rs.getString(19), rs.getString(20), nullableLong(rs, 21),
                    rs.getString(22), nullableLong(rs, 23), nullableLong(rs, 24));
        }

        private static Long nullableLong(ResultSet rs, int i) throws SQLException {
            Object o = rs.getObject(i);
            return o == null ? null : ((Number) o).longValue();
        }
    }

    // ------------------------------------------------------------------------------------ files

    /** Size, modification time and identity of a source file when it was looked at. */
    private record Stat(long size, FileTime modified, String identity) {
        /** Identity as the journal positions spell it (the file key). */
        static Stat journal(Path p) throws IOException {
            try {
                BasicFileAttributes a = Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
                return new Stat(a.size(), a.lastModifiedTime(), a.fileKey() == null ? "" : a.fileKey().toString());
            } catch (NoSuchFileException e) {
                return null;
            }
        }

        /** Identity as the spool positions spell it ({@link PrefixFingerprint#identity}). */
        static Stat spool(Path p) throws IOException {
            try {
                BasicFileAttributes a = Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
                return new Stat(a.size(), a.lastModifiedTime(), PrefixFingerprint.identity(p));
            } catch (NoSuchFileException e) {
                return null;
            }
        }
    }

    /** One source file and what was found for it. Confined to the run's thread. */
    private static final class Source {
        final int idx;
        final String kind;
        final String name;
        final Path path;
        final String positionKey;
        boolean live;
        String identity;
        Stat stat0;
        QuarantineEntry quarantine;
        Path openedPath;
        long boundary = -1;
        boolean unknown;
        /** A journal whose position does not match: changed, unless it proves to be a new file (see resolveSuspects). */
        boolean suspect;
        String suspectWhy;
        String check = "ok";
        VerifyClass fileClass;
        final StringBuilder detail = new StringBuilder();
        long bytesRead;
        long tailBytes;
        boolean written;
        final EnumMap<VerifyClass, Long> counts = new EnumMap<>(VerifyClass.class);

        Source(int idx, String kind, String name, Path path, String positionKey) {
            this.idx = idx;
            this.kind = kind;
            this.name = name;
            this.path = path;
            this.positionKey = positionKey;
        }

        boolean boundaryKnown() {
            return !unknown && boundary >= 0;
        }

        void note(String s) {
            if (!detail.isEmpty()) {
                detail.append("; ");
            }
            detail.append(s);
        }

        void changed(String check, String why) {
            this.check = check;
            this.fileClass = VerifyClass.CHANGED;
            note(why);
        }

        void suspect(String check, String why) {
            this.suspect = true;
            this.check = check;
            this.suspectWhy = why;
        }

        void positionsUnknown() {
            unknown = true;
            check = "positions-unknown";
            fileClass = VerifyClass.INCONCLUSIVE;
            note("the snapshot has no import positions, so the consumed boundary cannot be checked");
        }

        void removed(String why) {
            written = true;
            check = "removed";
            note(why);
        }

        FileReport report() {
            VerifyClass status = fileClass;
            for (Map.Entry<VerifyClass, Long> e : counts.entrySet()) {
                if (e.getValue() > 0) {
                    status = VerifyClass.worse(status, e.getKey());
                }
            }
            if (written) {
                status = VerifyClass.worse(status, VerifyClass.RACED);
            }
            if (status == null) {
                status = VerifyClass.UNCHANGED;
            }
            long size = stat0 == null ? -1 : stat0.size;
            return new FileReport(name, openedPath != null ? openedPath : path, kind, status, check, detail.toString(),
                    boundaryKnown() ? boundary : -1, size, bytesRead, tailBytes, written, counts);
        }
    }

    /**
     * Reads a file channel sequentially for a {@link LineReader} while digesting exactly its first
     * {@code upTo} bytes, so the prefix fingerprint is taken from the very bytes the lines are
     * parsed from.
     */
    private static final class PrefixTee implements ReadableByteChannel {
        private final FileChannel ch;
        private final long upTo;
        private final PrefixFingerprint digest = PrefixFingerprint.empty();
        private long total;

        PrefixTee(FileChannel ch, long upTo) throws IOException {
            this.ch = ch;
            this.upTo = upTo;
            ch.position(0);
        }

        @Override
        public int read(ByteBuffer dst) throws IOException {
            int start = dst.position();
            int n = ch.read(dst);
            if (n > 0 && total < upTo) {
                int take = (int) Math.min(n, upTo - total);
                if (dst.hasArray()) {
                    digest.update(dst.array(), dst.arrayOffset() + start, take);
                } else {
                    byte[] b = new byte[take];
                    dst.duplicate().position(start).get(b);
                    digest.update(b, 0, take);
                }
            }
            if (n > 0) {
                total += n;
            }
            return n;
        }

        long total() {
            return total;
        }

        /** The SHA-256 of the first {@code upTo} bytes, or null when the file ended before them. */
        String prefixHex() {
            return digest.length() == upTo ? digest.hex() : null;
        }

        @Override
        public boolean isOpen() {
            return ch.isOpen();
        }

        @Override
        public void close() {
            // the caller closes the channel
        }
    }

    /**
     * The dead-letter queue and its dead file, indexed by where each line came from. A journal
     * entry names the file as it was called when read ({@code journal/journal.wal} before a
     * rotation), so journal entries are matched by offset and content within the whole journal
     * family; spool entries by exact source, offset and content.
     */
    private static final class DeadLetterIndex {
        private final Map<Long, List<DeadLetter>> journal = new HashMap<>();
        private final Map<String, Map<Long, List<DeadLetter>>> spool = new HashMap<>();
        private final Set<String> keys = new HashSet<>();

        void addQueue(Path dataDir) {
            DeadLetterQueue q = DeadLetterQueue.open(dataDir, true);
            q.list().forEach(this::add);
            q.listDead().forEach(this::add);
        }

        private void add(DeadLetter d) {
            if (!keys.add(d.key())) {
                return;
            }
            if (d.source().startsWith(JournalImporter.DEAD_LETTER_PREFIX)) {
                journal.computeIfAbsent(d.offset(), k -> new ArrayList<>()).add(d);
            } else {
                spool.computeIfAbsent(d.source(), k -> new HashMap<>()).computeIfAbsent(d.offset(),
                        k -> new ArrayList<>()).add(d);
            }
        }

        boolean journal(long offset, java.util.function.Supplier<byte[]> content) {
            List<DeadLetter> at = journal.get(offset);
            return at != null && matches(at, content.get());
        }

        boolean spool(String source, long offset, byte[] content) {
            Map<Long, List<DeadLetter>> m = spool.get(source);
            List<DeadLetter> at = m == null ? null : m.get(offset);
            return at != null && matches(at, content);
        }

        /** Whether an entry keeps the same bytes (as far as both kept them). */
        private static boolean matches(List<DeadLetter> entries, byte[] content) {
            for (DeadLetter d : entries) {
                byte[] kept = d.originalBytes();
                int n = Math.min(kept.length, content.length);
                if (java.util.Arrays.equals(kept, 0, n, content, 0, n) && (n > 0 || kept.length == content.length)) {
                    return true;
                }
            }
            return false;
        }
    }
}
