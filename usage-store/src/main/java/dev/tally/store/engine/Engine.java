package dev.tally.store.engine;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Properties;
import java.util.concurrent.ConcurrentLinkedDeque;
import org.duckdb.DuckDBConnection;

/**
 * One in-process DuckDB instance per store. Segment files are ATTACHed to it under aliases
 * {@code seg_<seq>}, so the writer, the sealer and every reader share one buffer pool and see
 * each other's commits, and a rolled segment stays readable while it is sealed.
 *
 * <p>Thread-safe. A DuckDB connection is not: each caller borrows its own ({@link #borrow()})
 * and returns it ({@link #giveBack}); the writer keeps one of its own, used only under the
 * write gate.
 */
public final class Engine implements AutoCloseable {
    private static final int POOL_MAX = 16;

    private final DuckDBConnection root;
    private final ConcurrentLinkedDeque<DuckDBConnection> pool = new ConcurrentLinkedDeque<>();

    public Engine() throws SQLException {
        root = (DuckDBConnection) DriverManager.getConnection("jdbc:duckdb:", new Properties());
        try (Statement s = root.createStatement()) {
            // Event times are UTC; fix the zone so no host setting leaks into results.
            s.execute("SET TimeZone = 'UTC'");
            // Extensions are built in; never try to download one.
            s.execute("SET autoinstall_known_extensions = false");
            s.execute("SET autoload_known_extensions = false");
            // Sealed parts are written once under a unique name and never modified, so their
            // Parquet footers can be kept between queries (DuckDB still re-reads a footer when a
            // file's modification time changes).
            s.execute("SET parquet_metadata_cache = true");
        }
    }

    /** A new connection of its own; the caller closes it. */
    public DuckDBConnection newConnection() throws SQLException {
        return root.duplicate();
    }

    /** A pooled connection in auto-commit mode; give it back with {@link #giveBack}. */
    public DuckDBConnection borrow() throws SQLException {
        DuckDBConnection c = pool.pollFirst();
        return c != null ? c : root.duplicate();
    }

    public void giveBack(DuckDBConnection c) {
        try {
            if (c.isClosed()) {
                return;
            }
            if (!c.getAutoCommit()) {
                c.rollback();
                c.setAutoCommit(true);
            }
            if (pool.size() < POOL_MAX) {
                pool.addFirst(c);
                return;
            }
            c.close();
        } catch (SQLException e) {
            closeQuietly(c);
        }
    }

    /** Runs one statement on a fresh connection (attach, detach, checkpoint). */
    public void execute(String sql) throws SQLException {
        DuckDBConnection c = borrow();
        try (Statement s = c.createStatement()) {
            s.execute(sql);
        } finally {
            giveBack(c);
        }
    }

    public static String alias(long seq) {
        return "seg_" + seq;
    }

    /** A single-quoted SQL string literal. */
    public static String literal(String s) {
        return "'" + s.replace("'", "''") + "'";
    }

    public static String literal(Path p) {
        return literal(p.toAbsolutePath().toString());
    }

    public static void closeQuietly(Connection c) {
        try {
            c.close();
        } catch (SQLException ignored) {
            // closing after a failure; the original error is what matters
        }
    }

    @Override
    public void close() {
        DuckDBConnection c;
        while ((c = pool.pollFirst()) != null) {
            closeQuietly(c);
        }
        closeQuietly(root);
    }
}
