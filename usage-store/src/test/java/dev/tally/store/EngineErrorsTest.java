package dev.tally.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.sql.SQLException;
import org.junit.jupiter.api.Test;

class EngineErrorsTest {
    /** Absolute paths in engine and I/O messages become <path>; relative paths, URLs' routes and ranges stay. */
    @Test
    void scrubPaths_absolutePathsOnly() {
        assertEquals("IO Error: Failed to read file \"<path>\": ZSTD Decompression failure",
                EngineErrors.scrubPaths("IO Error: Failed to read file \"/srv/tally/archive/day=2026-11-19/"
                        + "segment-00000000000000000001.parquet\": ZSTD Decompression failure"));
        assertEquals("cannot open <path>: denied", EngineErrors.scrubPaths("cannot open /var/lib/tally/x.duckdb: denied"));
        assertEquals("part archive/day=2026-11-19/segment-1.parquet (events 2026-11-19T06:00:00Z..2026-11-19T10:00:00Z)",
                EngineErrors.scrubPaths("part archive/day=2026-11-19/segment-1.parquet (events "
                        + "2026-11-19T06:00:00Z..2026-11-19T10:00:00Z)"));
    }

    /** A redacted failure keeps the class and incident id and drops the engine's text, which can quote any tenant's value. */
    @Test
    void redact_dropsEngineTextKeepsClassAndIncident() {
        SQLException e = new SQLException("Invalid Input Error: Failed to read file \"/srv/a.parquet\": invalid "
                + "string encoding \"globex-secret\"");
        EngineErrors.Redacted r = EngineErrors.redact("query", e);
        assertEquals(EngineErrors.ErrorClass.DAMAGED_DATA, r.errorClass());
        assertTrue(r.message().contains("[damaged_data]") && r.message().contains(r.incident()), r.message());
        assertFalse(r.message().contains("globex-secret") || r.message().contains("/srv"), r.message());
        assertEquals(EngineErrors.ErrorClass.OUT_OF_MEMORY,
                EngineErrors.classify(new SQLException("Out of Memory Error: failed to allocate data of size 1.0 GiB")));
        assertEquals(EngineErrors.ErrorClass.ENGINE,
                EngineErrors.classify(new SQLException("Invalid Input Error: my own error() text")));
    }
}
