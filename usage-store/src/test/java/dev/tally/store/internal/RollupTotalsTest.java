package dev.tally.store.internal;

import static dev.tally.store.testing.TestEvents.event;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tally.store.UsageEvent;
import dev.tally.store.meter.MeterQuery;
import dev.tally.store.meter.MeterResult;
import dev.tally.store.meter.MeterRow;
import dev.tally.store.meter.MeterService;
import dev.tally.store.meter.WindowSize;
import dev.tally.store.testing.MutableClock;
import dev.tally.store.testing.TestEvents;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The per-subject totals beside each rollup part ({@link TotalsFile}) that answer one-window questions. */
class RollupTotalsTest {
    @TempDir
    Path dir;

    private final MutableClock clock = new MutableClock(StoreFixture.NOW);
    private static final Instant FROM = StoreFixture.NOW.minus(Duration.ofDays(30)).truncatedTo(ChronoUnit.DAYS);
    private static final Instant TO = StoreFixture.NOW.plus(Duration.ofHours(1));

    /** Sealing and compacting write, beside every rollup part, totals equal to its hourly rows summed per subject. */
    @Test
    void sealAndCompact_writeTotalsEqualToTheHourlyRows() throws Exception {
        try (TieredStore store = StoreFixture.open(StoreFixture.config(dir, clock))) {
            store.append(TestEvents.batch("acme", "a", 800, 7, StoreFixture.NOW, Duration.ofDays(20), 1));
            store.sealNow();
            assertTotalsMatchParts(CompactionTest.manifest(store));
            store.compact(true);
            Manifest m = CompactionTest.manifest(store);
            assertTrue(m.parts(PartKind.ROLLUP).stream().anyMatch(SealedPart::compacted));
            assertTotalsMatchParts(m);
            CompactionTest.assertSidecarsMatch(dir, m);
        }
    }

    /**
     * A one-window question over whole parts is answered from their totals (doubling the totals
     * doubles the answer), a question with several windows from the hourly rows, and without
     * totals every answer is the same as with them, with the cache off and on.
     */
    @Test
    void query_oneWindowOverWholeParts_readsTotalsAndFallsBackWithoutThem() throws Exception {
        List<MeterRow> monthly;
        List<MeterRow> daily;
        try (TieredStore store = StoreFixture.open(StoreFixture.config(dir, clock))) {
            store.append(TestEvents.batch("acme", "a", 800, 7, StoreFixture.NOW, Duration.ofDays(20), 1));
            store.sealNow();
            store.compact(true);
            try (MeterService meters = new MeterService(store, CompactionTest.registry(), 0)) {
                monthly = monthly(meters).rows();
                daily = daily(meters).rows();
                assertEquals(monthly(meters, true).rows(), monthly, "rollups and detail agree");
            }
        }
        List<Path> totals = totalsFiles();
        assertFalse(totals.isEmpty());

        for (Path t : totals) {
            rewrite(t, "value_count * 2", "value_sum * 2");
        }
        try (TieredStore store = StoreFixture.open(StoreFixture.config(dir, clock));
                MeterService meters = new MeterService(store, CompactionTest.registry(), 0)) {
            assertEquals(doubled(monthly), monthly(meters).rows(), "the monthly answer is read from the totals");
            assertEquals(daily, daily(meters).rows(), "several windows read hourly rows");
        }

        for (Path t : totals) {
            Files.delete(t);
        }
        for (long cacheRows : new long[] {0, 10_000}) {
            try (TieredStore store = StoreFixture.open(StoreFixture.config(dir, clock));
                    MeterService meters = new MeterService(store, CompactionTest.registry(), cacheRows)) {
                assertEquals(monthly, monthly(meters).rows(), "without totals, from the hourly rows (cache " + cacheRows + ")");
                assertEquals(monthly, monthly(meters).rows(), "again, cache " + cacheRows);
                assertEquals(daily, daily(meters).rows());
            }
        }
    }

    /** With the cache on, parts read from their totals are cached per part and the second answer comes from the cache. */
    @Test
    void query_totalsWithCache_cachedPerPart() throws Exception {
        try (TieredStore store = StoreFixture.open(StoreFixture.config(dir, clock))) {
            store.append(TestEvents.batch("acme", "a", 800, 7, StoreFixture.NOW, Duration.ofDays(20), 1));
            store.sealNow();
            store.compact(true);
            try (MeterService off = new MeterService(store, CompactionTest.registry(), 0);
                    MeterService on = new MeterService(store, CompactionTest.registry(), 10_000)) {
                MeterResult first = monthly(on);
                MeterResult second = monthly(on);
                assertEquals(monthly(off).rows(), first.rows());
                assertEquals(first.rows(), second.rows());
                assertTrue(first.partsRead() > 0);
                assertEquals(first.partsRead(), second.partsFromCache(), "every part cached after the first answer");
            }
        }
    }

    /**
     * A part whose whole-span sum does not fit DECIMAL(38,9), while each hour's does, is sealed
     * without totals, and its hourly rows still answer.
     */
    @Test
    void sealNow_partSumBeyondDecimal_sealsWithoutTotals() throws Exception {
        Instant t = StoreFixture.NOW.truncatedTo(ChronoUnit.DAYS).plus(Duration.ofHours(3));
        String big = "60000000000000000000000000000"; // 6e28: two of them exceed 29 integer digits
        List<UsageEvent> events = List.of(
                new UsageEvent("acme", "x1", "llm.request", "key-1", "test", t, "{\"input_tokens\":" + big + "}"),
                new UsageEvent("acme", "x2", "llm.request", "key-1", "test", t.plus(Duration.ofHours(1)),
                        "{\"input_tokens\":" + big + "}"),
                event("acme", "x3", "key-2", t, 5));
        try (TieredStore store = StoreFixture.open(StoreFixture.config(dir, clock))) {
            assertEquals(3, store.append(events).accepted());
            store.sealNow();
            Manifest m = CompactionTest.manifest(store);
            assertEquals(1, m.parts(PartKind.ROLLUP).size(), "the seal published its rollup part");
            assertEquals(List.of(), totalsFiles(), "no totals for a part whose sum overflows");
            try (MeterService meters = new MeterService(store, CompactionTest.registry(), 0)) {
                MeterResult hourly = meters.query(MeterQuery.builder("input_tokens", "acme", FROM, TO).subjects("key-1")
                        .window(WindowSize.HOUR, ZoneOffset.UTC).build());
                assertEquals(2, hourly.rows().size());
                assertEquals(0, new java.math.BigDecimal(big).compareTo(hourly.rows().get(0).value()),
                        "hour 1 holds " + hourly.rows().get(0).value());
                MeterResult other = meters.query(MeterQuery.builder("input_tokens", "acme", FROM, TO).subjects("key-2")
                        .build());
                assertEquals(5, other.rows().get(0).value().intValue(), "other subjects answer from the hourly rows");
            }
        }
    }

    /** Totals whose part the manifest does not name (a seal that crashed before publishing) are deleted on open. */
    @Test
    void open_totalsOfUnpublishedPart_areDeleted() throws Exception {
        try (TieredStore store = StoreFixture.open(StoreFixture.config(dir, clock))) {
            store.append(List.of(event("acme", "a", "k1", StoreFixture.NOW.minusSeconds(60), 1)));
            store.sealNow();
        }
        List<Path> published = totalsFiles();
        assertEquals(1, published.size());
        Path stray = dir.resolve(SegmentFiles.partPath(PartKind.ROLLUP, LocalDate.ofInstant(StoreFixture.NOW,
                ZoneOffset.UTC), 999) + TotalsFile.SUFFIX);
        Files.copy(published.get(0), stray);
        StoreFixture.open(StoreFixture.config(dir, clock)).close();
        assertFalse(Files.exists(stray));
        assertEquals(published, totalsFiles());
    }

    private static MeterResult monthly(MeterService meters) {
        return monthly(meters, false);
    }

    private static MeterResult monthly(MeterService meters, boolean detail) {
        MeterResult r = meters.query(MeterQuery.builder("input_tokens", "acme", FROM, TO).subjects("key-3")
                .detailOnly(detail).build());
        assertEquals(detail ? MeterResult.Source.DETAIL : MeterResult.Source.ROLLUP, r.source());
        assertEquals(1, r.rows().size());
        return r;
    }

    private static MeterResult daily(MeterService meters) {
        MeterResult r = meters.query(MeterQuery.builder("input_tokens", "acme", FROM, TO).subjects("key-3")
                .window(WindowSize.DAY, ZoneOffset.UTC).build());
        assertTrue(r.rows().size() > 1);
        return r;
    }

    private static List<MeterRow> doubled(List<MeterRow> rows) {
        List<MeterRow> out = new ArrayList<>();
        for (MeterRow r : rows) {
            out.add(new MeterRow(r.windowStart(), r.windowEnd(), r.subject(), r.groups(), r.value().multiply(
                    java.math.BigDecimal.valueOf(2)), r.events() * 2));
        }
        return out;
    }

    private List<Path> totalsFiles() throws Exception {
        List<Path> out = new ArrayList<>();
        for (String rel : CompactionTest.filesOnDisk(dir, TotalsFile.SUFFIX)) {
            out.add(dir.resolve(rel));
        }
        out.sort(null);
        return out;
    }

    /** Each published rollup part's totals hold exactly its rows summed per tenant, type, subject and property. */
    private void assertTotalsMatchParts(Manifest m) throws Exception {
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement s = c.createStatement()) {
            for (SealedPart p : m.parts(PartKind.ROLLUP)) {
                Path part = dir.resolve(p.path());
                Path totals = TotalsFile.of(part);
                assertTrue(Files.exists(totals), "totals of " + p.path());
                String summed = "SELECT tenant, type, subject, property, sum(value_count)::BIGINT, sum(value_sum), "
                        + "min(value_min), max(value_max) FROM read_parquet('" + part + "') GROUP BY ALL";
                String stored = "SELECT tenant, type, subject, property, value_count, value_sum, value_min, value_max "
                        + "FROM read_parquet('" + totals + "')";
                try (ResultSet rs = s.executeQuery("SELECT (SELECT count(*) FROM (" + summed + " EXCEPT ALL " + stored
                        + ")), (SELECT count(*) FROM (" + stored + " EXCEPT ALL " + summed + ")), (SELECT count(*) FROM ("
                        + stored + "))")) {
                    rs.next();
                    assertEquals(0, rs.getLong(1), "rows of " + p.path() + " missing from its totals");
                    assertEquals(0, rs.getLong(2), "totals of " + p.path() + " not in its rows");
                    assertNotEquals(0, rs.getLong(3));
                }
            }
        }
    }

    /** Replaces a totals file by itself with its counts and sums recomputed by the given expressions. */
    private static void rewrite(Path totals, String count, String sum) throws Exception {
        Path tmp = totals.resolveSibling("rewritten.parquet");
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement s = c.createStatement()) {
            s.execute("COPY (SELECT tenant, type, subject, property, " + count + " AS value_count, " + sum
                    + " AS value_sum, value_min, value_max FROM read_parquet('" + totals + "')) TO '" + tmp
                    + "' (FORMAT parquet)");
        }
        Files.move(tmp, totals, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }
}
