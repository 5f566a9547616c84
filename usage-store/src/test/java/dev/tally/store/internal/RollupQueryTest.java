package dev.tally.store.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.List;
import org.junit.jupiter.api.Test;

class RollupQueryTest {
    /** The fast struct rollup gives exactly the rows of the MAP form, also for keys with '/', '~' and quotes, and keeps every digit. */
    @Test
    void rollupQuery_structFormEqualsMapFormExactly() throws Exception {
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement s = c.createStatement()) {
            s.execute("CREATE TABLE ev (tenant VARCHAR, type VARCHAR, subject VARCHAR, time TIMESTAMP, data VARCHAR)");
            s.execute("INSERT INTO ev SELECT 't' || (i % 3), 'x', 'k' || (i % 7), TIMESTAMP '2026-11-20' + to_seconds(i * 37), "
                    + "'{\"a\":' || i || ',\"b/c\":' || (i * 0.5) || ',\"d~e\":\"s' || i || '\",\"q''t\":' || (i % 2) "
                    + "|| ',\"n\":{\"deep\":1},\"big\":12345678901234567890.123456789' || "
                    + "CASE WHEN i % 5 = 0 THEN ',\"only\":-3' ELSE '' END || '}' FROM range(5000) r(i)");
            String from = "TIMESTAMP '2026-11-20'";
            String to = "TIMESTAMP '2026-11-23'";
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
            try (ResultSet rs = s.executeQuery("SELECT max(value_max)::VARCHAR, sum(value_count) FROM (" + fast
                    + ") WHERE property = 'big'")) {
                rs.next();
                assertEquals("12345678901234567890.123456789", rs.getString(1), "no digit lost through a double");
                assertEquals(5000, rs.getLong(2));
            }
            try (ResultSet rs = s.executeQuery("SELECT count(*) FROM (" + fast + ") WHERE property IN ('d~e', 'n')")) {
                rs.next();
                assertEquals(0, rs.getLong(1), "strings and objects are not numbers");
            }
        }
    }
}
