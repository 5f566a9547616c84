package dev.tally.store.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tally.store.ImportPosition;
import dev.tally.store.engine.Engine;
import dev.tally.store.testing.DiskRows;
import dev.tally.store.testing.MutableClock;
import dev.tally.store.testing.TestEvents;
import java.nio.file.Path;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.Map;
import org.duckdb.DuckDBConnection;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A rollover beside a reader that is older than the last import position written. In DuckDB a
 * committed UPDATE keeps the segment's checkpoint lock until every older reader ends, so the
 * rollover's checkpoint was refused and the import pass backed off for seconds at a time (seen in
 * the 500-kill worker loop). Positions are now moved by a delete and an insert, and a lock held
 * by anything else past a few short tries no longer fails the rollover.
 */
class RolloverCheckpointTest {
    @TempDir
    Path dir;

    private final MutableClock clock = new MutableClock(StoreFixture.NOW);

    /** Positions written while an older reader is open do not stop the rollover's checkpoint, and every row survives a reopen. */
    @Test
    void rollover_positionsMovedBesideOlderReader_checkpointsAndKeepsRows() throws Exception {
        try (TieredStore store = TestStores.open(dir, clock)) {
            String alias = appendFirstBatch(store);
            try (DuckDBConnection reader = olderReader(store, alias)) {
                for (int i = 2; i <= 4; i++) {
                    store.append(TestEvents.batch("acme", "b" + i, 100, 3, StoreFixture.NOW, Duration.ofMinutes(5), i),
                            new ImportPosition("journal:a", 100L * i, "f" + i, "i1"));
                }
                try (DuckDBConnection writerSide = store.engine().newConnection();
                        Statement w = writerSide.createStatement()) {
                    w.execute("CHECKPOINT " + alias); // what the rollover runs first; refused before the fix
                }
                assertTrue(store.rollover("test"));
                reader.commit();
            }
            assertEquals(400, store.importPositions().get("journal:a").offset());
            store.sealNow();
            assertEquals(800, TestStores.idCounts(store).size());
        }
        assertEachOnceOnDisk(800);
    }

    /** When something else still holds the checkpoint lock after every try, the rollover goes ahead without the checkpoint and no row is lost. */
    @Test
    void rollover_checkpointLockHeldThroughEveryTry_rollsWithoutCheckpointAndKeepsRows() throws Exception {
        try (TieredStore store = TestStores.open(dir, clock)) {
            String alias = appendFirstBatch(store);
            try (DuckDBConnection reader = olderReader(store, alias);
                    DuckDBConnection other = store.engine().newConnection(); Statement o = other.createStatement()) {
                // A committed UPDATE by another connection holds the lock until the older reader ends.
                o.execute("UPDATE " + alias + ".main.import_positions SET updated_at = updated_at + INTERVAL 1 SECOND");
                assertThrows(java.sql.SQLException.class, () -> o.execute("CHECKPOINT " + alias));
                assertTrue(store.rollover("test"), "rolled without the checkpoint");
                reader.commit();
            }
            store.append(TestEvents.batch("acme", "b", 300, 3, StoreFixture.NOW, Duration.ofMinutes(5), 2));
            store.sealNow();
            assertEquals(800, TestStores.idCounts(store).size());
        }
        try (TieredStore reopened = TestStores.open(dir, clock)) {
            assertEquals(800, TestStores.idCounts(reopened).size());
        }
        assertEachOnceOnDisk(800);
    }

    /** Appends 500 events with an import position; returns the active segment's alias. */
    private static String appendFirstBatch(TieredStore store) {
        store.append(TestEvents.batch("acme", "a", 500, 3, StoreFixture.NOW, Duration.ofMinutes(5), 1),
                new ImportPosition("journal:a", 100, "f1", "i1"));
        return Engine.alias(store.lastWrittenSeq());
    }

    /** A connection with an open transaction whose snapshot predates every later write. */
    private static DuckDBConnection olderReader(TieredStore store, String alias) throws SQLException {
        DuckDBConnection reader = store.engine().newConnection();
        reader.setAutoCommit(false);
        try (Statement s = reader.createStatement();
                ResultSet rs = s.executeQuery("SELECT count(*) FROM " + alias + ".main.usage_events")) {
            assertTrue(rs.next());
        }
        return reader;
    }

    private void assertEachOnceOnDisk(int expected) {
        Map<String, Integer> counts = DiskRows.scan(dir).counts();
        assertEquals(expected, counts.size());
        counts.values().forEach(n -> assertEquals(1, n));
    }
}
