package dev.tally.store.internal;

import java.sql.SQLException;
import java.sql.Statement;

/**
 * Reads every block of an attached segment once, so a damaged file fails on open rather than in
 * the middle of an append, a seal or a query. Attaching alone reads only the header and the
 * catalog, and counts come from metadata: a truncated file attaches fine.
 *
 * <p>Thread-safe: stateless.
 */
public final class SegmentProbe {
    private SegmentProbe() {
    }

    /** Throws DuckDB's error when any column of any table of segment {@code alias} cannot be read. */
    public static void check(Statement s, String alias) throws SQLException {
        for (String table : new String[] {"usage_events", "import_positions", "segment_meta"}) {
            // hash() of every column: nothing is pruned, and the result is one row whatever the size.
            s.execute("SELECT count(*), sum(hash(COLUMNS(*))) FROM " + alias + ".main." + table);
        }
    }
}
