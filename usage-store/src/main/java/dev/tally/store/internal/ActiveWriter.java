package dev.tally.store.internal;

import dev.tally.store.mutation.Mutation;
import dev.tally.store.io.FileSync;
import dev.tally.store.engine.Engine;
import dev.tally.store.engine.TimeUtil;

import dev.tally.store.ImportPosition;
import dev.tally.store.StoreException;
import dev.tally.store.UsageEvent;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.util.List;
import org.duckdb.DuckDBAppender;
import org.duckdb.DuckDBConnection;

/**
 * Writes batches into the active segment and creates new segments. Owns the writer connection.
 *
 * <p>Not thread-safe: every method must be called with the store's write gate held, which also
 * satisfies DuckDB's rule that an appender stays on the thread that made it (each batch makes
 * and closes its own).
 *
 * <p>DuckDB 2.0 traps handled here: the appender commits by itself every 2048 rows unless a
 * transaction is already open on the connection, so a statement runs first after
 * {@code setAutoCommit(false)}; {@code appender.close()} swallows a failed flush and drops rows,
 * so {@code flush()} is called and checked first; a statement that fails is closed by the
 * driver, so the statements cached for the active segment ({@link BatchStatements}) are dropped
 * after any failed batch and prepared again by the next one.
 */
final class ActiveWriter implements AutoCloseable {
    private final Engine engine;
    private final SegmentFiles files;
    private final DuckDBConnection conn;
    /** The per-batch statements of the segment appended to last; null until the next batch. */
    private BatchStatements cached;

    ActiveWriter(Engine engine, SegmentFiles files) throws SQLException {
        this.engine = engine;
        this.files = files;
        this.conn = engine.newConnection();
    }

    /** The writer's connection, for duplicate checks made under the gate. */
    DuckDBConnection connection() {
        return conn;
    }

    /**
     * Writes {@code rows} and the import position in one transaction on {@code seg}. On any
     * failure the transaction is rolled back and nothing of the batch is visible.
     */
    void append(SegmentHandle seg, List<StoredEvent> rows, ImportPosition position, AppendSeam seam,
            Instant now) throws SQLException {
        BatchStatements st = statements(seg);
        if (position != null && seam.mutations().contains(Mutation.POSITION_OUTSIDE_TRANSACTION)) {
            writePosition(st, position, now); // auto-commit: the promise switched off for a test
            position = null;
        }
        conn.setAutoCommit(false);
        boolean committed = false;
        try {
            // Opens the transaction on this database before the appender exists (see class doc).
            try (var rs = st.begin.executeQuery()) {
                rs.next();
            }
            if (!rows.isEmpty()) {
                try (DuckDBAppender ap = conn.createAppender(seg.alias(), "main", "usage_events")) {
                    for (StoredEvent r : rows) {
                        UsageEvent e = r.event();
                        ap.beginRow();
                        ap.append(e.tenant());
                        ap.append(e.id());
                        ap.append(e.type());
                        ap.append(e.subject());
                        if (e.source() == null) {
                            ap.appendNull();
                        } else {
                            ap.append(e.source());
                        }
                        ap.appendEpochMicros(r.timeMicros());
                        ap.append(e.data());
                        ap.append(r.keyHash());
                        ap.endRow();
                    }
                    ap.flush();
                }
            }
            if (position != null) {
                writePosition(st, position, now);
            }
            seam.beforeCommit(seg.seq());
            conn.commit();
            committed = true;
        } finally {
            if (!committed) {
                dropStatements(); // the driver may have closed the one that failed
                try {
                    conn.rollback();
                } catch (SQLException ignored) {
                    // the original failure is reported; a failed rollback leaves nothing committed
                }
            }
            conn.setAutoCommit(true);
        }
    }

    /**
     * Moves the position of its source: a DELETE of its row by key and an INSERT of the new one,
     * both prepared once per segment (an INSERT OR REPLACE prepared per batch cost about a third
     * of a 1,000-event batch's import time). Not an UPDATE: in DuckDB a committed UPDATE keeps the
     * segment's checkpoint lock until every reader older than it ends, so a rollover beside a
     * slow reader could not checkpoint; a delete and an insert do not hold it.
     */
    private void writePosition(BatchStatements st, ImportPosition position, Instant now) throws SQLException {
        PreparedStatement del = st.deletePosition;
        del.setString(1, position.source());
        del.executeUpdate();
        PreparedStatement ins = st.insertPosition;
        ins.setString(1, position.source());
        ins.setLong(2, position.offset());
        ins.setString(3, position.fingerprint());
        ins.setString(4, position.identity());
        ins.setLong(5, TimeUtil.toMicros(now));
        ins.executeUpdate();
    }

    /** The cached statements for {@code seg}, prepared again when the active segment changed or after a failure. */
    private BatchStatements statements(SegmentHandle seg) throws SQLException {
        // By handle, not number: a segment attached again (repair) gets a new handle.
        if (cached != null && cached.segment == seg) {
            return cached;
        }
        dropStatements();
        cached = BatchStatements.prepare(conn, seg);
        return cached;
    }

    private void dropStatements() {
        if (cached != null) {
            cached.close();
            cached = null;
        }
    }

    /**
     * The statements every batch on one segment runs, prepared once: parsing and planning them
     * per batch was a measurable share of the import's time. Not thread-safe; owned by the
     * writer, under the write gate like it.
     */
    private static final class BatchStatements implements AutoCloseable {
        final SegmentHandle segment;
        final PreparedStatement begin;
        final PreparedStatement deletePosition;
        final PreparedStatement insertPosition;

        private BatchStatements(SegmentHandle segment, PreparedStatement begin, PreparedStatement deletePosition,
                PreparedStatement insertPosition) {
            this.segment = segment;
            this.begin = begin;
            this.deletePosition = deletePosition;
            this.insertPosition = insertPosition;
        }

        static BatchStatements prepare(DuckDBConnection conn, SegmentHandle seg) throws SQLException {
            String positions = seg.alias() + ".main.import_positions";
            PreparedStatement begin = null;
            PreparedStatement delete = null;
            try {
                begin = conn.prepareStatement("SELECT count(*) FROM " + seg.alias() + ".main.segment_meta");
                delete = conn.prepareStatement("DELETE FROM " + positions + " WHERE source = ?");
                PreparedStatement insert = conn.prepareStatement("INSERT INTO " + positions
                        + " VALUES (?, ?, ?, ?, make_timestamp(?))");
                return new BatchStatements(seg, begin, delete, insert);
            } catch (SQLException | RuntimeException e) {
                closeQuietly(begin);
                closeQuietly(delete);
                throw e;
            }
        }

        @Override
        public void close() {
            closeQuietly(begin);
            closeQuietly(deletePosition);
            closeQuietly(insertPosition);
        }

        private static void closeQuietly(PreparedStatement ps) {
            if (ps == null) {
                return;
            }
            try {
                ps.close();
            } catch (SQLException ignored) {
                // closing a statement of a failed batch; nothing to report
            }
        }
    }

    /** Deletes the import positions of {@code sources} from the segment, in one transaction. */
    int forgetPositions(SegmentHandle seg, java.util.Collection<String> sources) throws SQLException {
        int n = 0;
        conn.setAutoCommit(false);
        boolean committed = false;
        try {
            try (PreparedStatement ps = conn.prepareStatement("DELETE FROM " + seg.alias()
                    + ".main.import_positions WHERE source = ?")) {
                for (String src : sources) {
                    ps.setString(1, src);
                    n += ps.executeUpdate();
                }
            }
            conn.commit();
            committed = true;
        } finally {
            if (!committed) {
                try {
                    conn.rollback();
                } catch (SQLException ignored) {
                    // the original failure is reported; a failed rollback leaves nothing committed
                }
            }
            conn.setAutoCommit(true);
        }
        return n;
    }

    /** Makes the segment's committed rows durable in its main file and empties its WAL. */
    void checkpoint(SegmentHandle seg) throws SQLException {
        try (Statement s = conn.createStatement()) {
            s.execute("CHECKPOINT " + seg.alias());
        }
    }

    /** Tries of {@link #checkpointIfQuiet}; their pauses add up to 310 ms. */
    static final int CHECKPOINT_TRIES = 6;

    /**
     * Checkpoints {@code seg} as {@link #checkpoint} does, but gives up after a few short tries
     * while DuckDB reports another transaction holding the segment's checkpoint lock. The writer's
     * own statements no longer take it past their commit (see {@link #writePosition}), so this is
     * a backstop for whatever else might. The rows are durable either way, in the WAL, which the
     * seal reads and the next open replays, so failing a rollover for it would only stall the
     * import. Other failures are thrown.
     *
     * @return whether the checkpoint ran
     */
    boolean checkpointIfQuiet(SegmentHandle seg) throws SQLException {
        for (int attempt = 1; ; attempt++) {
            try {
                checkpoint(seg);
                return true;
            } catch (SQLException e) {
                if (!isCheckpointBusy(e)) {
                    throw e;
                }
                if (attempt >= CHECKPOINT_TRIES) {
                    return false;
                }
                try {
                    Thread.sleep(10L << (attempt - 1)); // 10, 20, 40, 80, 160 ms: a reader's commit is short
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    return false;
                }
            }
        }
    }

    static boolean isCheckpointBusy(SQLException e) {
        String m = String.valueOf(e.getMessage());
        return m.contains("Cannot CHECKPOINT") && m.contains("other write transactions");
    }

    /**
     * Creates segment {@code seq} durably and attaches it: build it under a {@code .tmp} name
     * (schema, metadata, the import positions carried over from {@code previous}), checkpoint,
     * detach, fsync, rename, fsync the directory, attach. A crash before the rename leaves only a
     * {@code .tmp} file that recovery deletes; after it, a complete segment.
     */
    SegmentHandle createSegment(long seq, SegmentHandle previous, Instant now) throws SQLException, IOException {
        dropStatements(); // the active segment changes: hold nothing prepared against the old one
        Path target = files.segment(seq);
        Path tmp = target.resolveSibling(target.getFileName() + SegmentFiles.TMP_SUFFIX);
        Files.deleteIfExists(tmp);
        Files.deleteIfExists(tmp.resolveSibling(tmp.getFileName() + ".wal"));
        String tmpAlias = "new_" + seq;
        try (Statement s = conn.createStatement()) {
            s.execute("ATTACH " + Engine.literal(tmp) + " AS " + tmpAlias);
            try {
                s.execute(SegmentSchema.createTables(tmpAlias));
                s.execute("INSERT INTO " + tmpAlias + ".main.segment_meta VALUES (" + seq + ", "
                        + TimeUtil.sqlTimestamp(now) + ", " + Manifest.SCHEMA_VERSION + ")");
                if (previous != null) {
                    s.execute("INSERT INTO " + tmpAlias + ".main.import_positions SELECT * FROM "
                            + previous.alias() + ".main.import_positions");
                }
                s.execute("CHECKPOINT " + tmpAlias);
            } finally {
                s.execute("DETACH " + tmpAlias);
            }
        }
        FileSync.fsyncFile(tmp);
        FileSync.moveAtomically(tmp, target);
        return attach(seq, false);
    }

    /** Reads every block of an attached segment ({@link SegmentProbe}). */
    void probe(SegmentHandle h) throws SQLException {
        try (Statement s = conn.createStatement()) {
            SegmentProbe.check(s, h.alias());
        }
    }

    /** Detaches segment {@code seq} if an attach that failed half-way left it attached. */
    void detachQuietly(long seq) {
        try (Statement s = conn.createStatement()) {
            s.execute("DETACH DATABASE IF EXISTS " + Engine.alias(seq));
        } catch (SQLException ignored) {
            // Nothing reads the alias of a segment that did not open; the store is degraded anyway.
        }
    }

    /** Attaches an existing segment file and reads its statistics. */
    SegmentHandle attach(long seq, boolean readOnly) throws SQLException {
        return attach(engine, files, seq, readOnly, conn);
    }

    static SegmentHandle attach(Engine engine, SegmentFiles files, long seq, boolean readOnly,
            DuckDBConnection c) throws SQLException {
        String alias = Engine.alias(seq);
        try (Statement s = c.createStatement()) {
            s.execute("ATTACH " + Engine.literal(files.segment(seq)) + " AS " + alias
                    + (readOnly ? " (READ_ONLY)" : ""));
            Instant created = Instant.EPOCH;
            try (var rs = s.executeQuery("SELECT epoch_us(created_at) FROM " + alias + ".main.segment_meta")) {
                if (rs.next()) {
                    created = TimeUtil.fromMicros(rs.getLong(1));
                }
            }
            try (var rs = s.executeQuery("SELECT count(*), coalesce(epoch_us(min(time)), 0), "
                    + "coalesce(epoch_us(max(time)), 0) FROM " + alias + ".main.usage_events")) {
                rs.next();
                return new SegmentHandle(engine, seq, files.segment(seq), files.segmentWal(seq), created,
                        rs.getLong(1), rs.getLong(2), rs.getLong(3));
            }
        } catch (SQLException e) {
            throw new StoreException("cannot open segment " + files.segment(seq) + ": " + e.getMessage()
                    + (e.getMessage() != null && e.getMessage().contains("WAL")
                            ? ". Its DuckDB write-ahead log is damaged. Stop the worker and run: usage-worker repair wal"
                                    + " (it keeps a copy, cuts the log at the damaged entry and reports what was lost;"
                                    + " see docs/reliability.md)"
                            : ""), e);
        }
    }

    @Override
    public void close() {
        dropStatements();
        Engine.closeQuietly(conn);
    }
}
