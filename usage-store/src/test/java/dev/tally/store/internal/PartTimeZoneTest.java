package dev.tally.store.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tally.store.engine.Engine;
import dev.tally.store.io.FileSync;
import dev.tally.store.sql.OutputFormat;
import dev.tally.store.sql.SandboxOptions;
import dev.tally.store.sql.SqlSandbox;
import dev.tally.store.testing.MutableClock;
import dev.tally.store.testing.TestEvents;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Sealed and compacted parts say their times are UTC (Parquet timestamps adjusted to UTC, Iceberg
 * {@code timestamptz}), and a store that still holds parts written the old way ("not adjusted",
 * the same UTC values) answers exactly like one whose parts are all new.
 */
class PartTimeZoneTest {
    @TempDir
    Path tmp;

    private final MutableClock clock = new MutableClock(StoreFixture.NOW);

    /** Every part a seal or a compaction writes stores time and hour as timestamps adjusted to UTC. */
    @Test
    void sealAndCompact_writeTimesAdjustedToUtc() throws Exception {
        Path dir = tmp.resolve("a");
        try (TieredStore store = StoreFixture.open(StoreFixture.config(dir, clock))) {
            store.append(TestEvents.batch("acme", "a", 300, 5, StoreFixture.NOW, Duration.ofDays(3), 1));
            store.sealNow();
            store.append(TestEvents.batch("acme", "b", 300, 5, StoreFixture.NOW, Duration.ofDays(3), 2));
            store.sealNow();
        }
        assertAllPartsUtc(dir);
        clock.advance(Duration.ofDays(3));
        try (TieredStore store = StoreFixture.open(StoreFixture.config(dir, clock))) {
            store.compact(true);
        }
        Manifest m = Manifest.read(dir.resolve(SegmentFiles.MANIFEST_FILE));
        assertTrue(m.parts().stream().anyMatch(SealedPart::compacted), "something was compacted");
        assertAllPartsUtc(dir);
    }

    /**
     * Old parts ("not adjusted") beside new ones give the same totals and the same SQL answers,
     * to the character, as all-new parts; so does the compaction that merges them.
     */
    @Test
    void mixedOldAndNewParts_answerLikeAllNewParts() throws Exception {
        Path control = tmp.resolve("control");
        Path mixed = tmp.resolve("mixed");
        for (Path dir : List.of(control, mixed)) {
            try (TieredStore store = StoreFixture.open(StoreFixture.config(dir, clock))) {
                store.append(TestEvents.batch("acme", "a", 300, 5, StoreFixture.NOW, Duration.ofDays(3), 1));
                store.sealNow();
            }
        }
        rewriteAsOldParts(mixed);
        List<String> expected = null;
        for (Path dir : List.of(control, mixed)) {
            try (TieredStore store = StoreFixture.open(StoreFixture.config(dir, clock))) {
                store.append(TestEvents.batch("acme", "b", 300, 5, StoreFixture.NOW, Duration.ofDays(3), 2));
                store.sealNow();
                store.append(TestEvents.batch("acme", "c", 50, 5, StoreFixture.NOW, Duration.ofHours(1), 3));
                List<String> got = answers(store, dir);
                if (expected == null) {
                    expected = got;
                } else {
                    assertEquals(expected, got);
                }
            }
        }
        clock.advance(Duration.ofDays(3));
        expected = null;
        for (Path dir : List.of(control, mixed)) {
            try (TieredStore store = StoreFixture.open(StoreFixture.config(dir, clock))) {
                store.compact(true);
                List<String> got = answers(store, dir);
                if (expected == null) {
                    expected = got;
                } else {
                    assertEquals(expected, got);
                }
            }
        }
    }

    private List<String> answers(TieredStore store, Path dir) throws Exception {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            out.add(store.total("acme", "llm.request", "key-" + i, "$.input_tokens",
                    StoreFixture.NOW.minus(Duration.ofDays(5)), StoreFixture.NOW.plus(Duration.ofDays(5))).toString());
        }
        Path work = Files.createDirectories(dir.resolveSibling(dir.getFileName() + "-sql"));
        try (SqlSandbox sandbox = SqlSandbox.open(store, "acme", SandboxOptions.defaults().withWorkDir(work)
                .withMaxRows(100_000))) {
            out.add(sandbox.query("SELECT id, subject, time FROM usage_events ORDER BY id").render(OutputFormat.CSV));
            out.add(sandbox.query("SELECT date_trunc('hour', time) AS h, CAST(time AS DATE) AS d, count(*) AS n "
                    + "FROM usage_events GROUP BY ALL ORDER BY 1").render(OutputFormat.CSV));
            out.add(sandbox.query("SELECT hour, sum(value_count) AS n FROM usage_rollups_hourly WHERE property IS NULL "
                    + "GROUP BY 1 ORDER BY 1").render(OutputFormat.CSV));
        }
        return out;
    }

    /** Rewrites every published part as an older version wrote it: times as timestamps not adjusted to UTC. */
    private static void rewriteAsOldParts(Path dir) throws Exception {
        Manifest m = Manifest.read(dir.resolve(SegmentFiles.MANIFEST_FILE));
        List<SealedPart> rewritten = new ArrayList<>();
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement s = c.createStatement()) {
            s.execute("SET TimeZone = 'UTC'");
            for (SealedPart p : m.parts()) {
                Path f = dir.resolve(p.path());
                Path tmp = f.resolveSibling(f.getFileName() + ".old");
                boolean detail = p.kind() == PartKind.DETAIL;
                String col = detail ? "time" : "hour";
                s.execute("COPY (SELECT * REPLACE (make_timestamp(epoch_us(" + col + ")) AS " + col + ") FROM read_parquet("
                        + Engine.literal(f) + ")) TO " + Engine.literal(tmp) + " (FORMAT parquet, COMPRESSION zstd, FIELD_IDS "
                        + (detail ? SegmentSchema.DETAIL_FIELD_IDS : SegmentSchema.ROLLUP_FIELD_IDS) + ")");
                Files.move(tmp, f, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                assertFalse(adjustedToUtc(s, f, col), f.toString());
                rewritten.add(new SealedPart(p.seq(), p.kind(), p.day(), p.path(), p.minTime(), p.maxTime(), p.rows(),
                        Files.size(f), FileSync.crc32c(f), p.compaction()));
            }
        }
        new Manifest(m.lastSeq(), rewritten, m.quarantined()).write(dir.resolve(SegmentFiles.MANIFEST_FILE));
    }

    private static void assertAllPartsUtc(Path dir) throws Exception {
        Manifest m = Manifest.read(dir.resolve(SegmentFiles.MANIFEST_FILE));
        assertFalse(m.parts().isEmpty());
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement s = c.createStatement()) {
            for (SealedPart p : m.parts()) {
                assertTrue(adjustedToUtc(s, dir.resolve(p.path()), p.kind() == PartKind.DETAIL ? "time" : "hour"),
                        p.path());
            }
        }
    }

    private static boolean adjustedToUtc(Statement s, Path f, String col) throws Exception {
        try (ResultSet rs = s.executeQuery("SELECT logical_type FROM parquet_schema(" + Engine.literal(f)
                + ") WHERE name = " + Engine.literal(col))) {
            assertTrue(rs.next(), col + " in " + f);
            return rs.getString(1).contains("isAdjustedToUTC=1");
        }
    }
}
