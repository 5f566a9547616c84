package dev.tally.store.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.List;
import org.junit.jupiter.api.Test;

class RollupQueryTest {
    /** The fast multi-path rollup gives exactly the rows of the key-by-key form, also for keys with '/', '~' and quotes. */
    @Test
    void rollupQuery_multiPathEqualsKeyByKey() throws Exception {
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement s = c.createStatement()) {
            s.execute("CREATE TABLE ev (tenant VARCHAR, type VARCHAR, subject VARCHAR, time TIMESTAMP, data VARCHAR)");
            s.execute("INSERT INTO ev SELECT 't' || (i % 3), 'x', 'k' || (i % 7), TIMESTAMP '2026-11-20' + to_seconds(i * 37), "
                    + "'{\"a\":' || i || ',\"b/c\":' || (i * 0.5) || ',\"d~e\":\"s' || i || '\",\"q''t\":' || (i % 2) "
                    + "|| ',\"n\":{\"deep\":1},\"big\":12345678901234567890.123456789' || "
                    + "CASE WHEN i % 5 = 0 THEN ',\"only\":-3' ELSE '' END || '}' FROM range(5000) r(i)");
            String from = "TIMESTAMP '2026-11-20'";
            String to = "TIMESTAMP '2026-11-22'";
            List<String> keys = SegmentSchema.distinctKeys(s, "ev");
            assertEquals(List.of("a", "b/c", "big", "d~e", "n", "only", "q't"), keys);
            String fast = SegmentSchema.rollupQuery("ev", from, to, keys);
            String slow = SegmentSchema.rollupQuery("ev", from, to, null);
            try (ResultSet rs = s.executeQuery("SELECT (SELECT count(*) FROM (" + fast + ")), (SELECT count(*) FROM ("
                    + slow + ")), (SELECT count(*) FROM ((" + fast + ") EXCEPT ALL (" + slow + ")))")) {
                rs.next();
                assertEquals(rs.getLong(2), rs.getLong(1));
                assertEquals(0, rs.getLong(3));
                org.junit.jupiter.api.Assertions.assertTrue(rs.getLong(1) > 100);
            }
        }
    }
}
