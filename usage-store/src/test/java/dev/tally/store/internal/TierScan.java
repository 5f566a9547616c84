package dev.tally.store.internal;

import java.sql.ResultSet;
import java.sql.Statement;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.duckdb.DuckDBConnection;

/** Reads every row's identity from every tier of one view, for exactly-once checks in tests. */
final class TierScan {
    private TierScan() {
    }

    /** How many times each {@code tenant/id} appears across active, pending and sealed detail. */
    static Map<String, Integer> idCounts(TieredStore store) throws Exception {
        TierView v = store.acquireView();
        DuckDBConnection c = store.engine().borrow();
        try (Statement s = c.createStatement()) {
            Map<String, Integer> counts = new HashMap<>();
            StringBuilder sql = new StringBuilder("SELECT tenant, id FROM (SELECT NULL::VARCHAR AS tenant, NULL::VARCHAR AS id WHERE false");
            for (SegmentHandle h : v.segments()) {
                sql.append(" UNION ALL SELECT tenant, id FROM ").append(h.eventsTable());
            }
            List<PartHandle> parts = v.parts(PartKind.DETAIL, java.time.Instant.MIN, java.time.Instant.MAX);
            if (!parts.isEmpty()) {
                sql.append(" UNION ALL SELECT tenant, id FROM ").append(TieredStore.parquetSource(parts));
            }
            sql.append(")");
            try (ResultSet rs = s.executeQuery(sql.toString())) {
                while (rs.next()) {
                    counts.merge(rs.getString(1) + "/" + rs.getString(2), 1, Integer::sum);
                }
            }
            return counts;
        } finally {
            store.engine().giveBack(c);
            v.release();
        }
    }
}
