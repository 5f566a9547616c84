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
import dev.tally.store.read.TotalsFormat;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.StandardOpenOption;
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
            sealAndCompact(store);
            try (MeterService meters = new MeterService(store, CompactionTest.registry(), 0)) {
                monthly = monthly(meters).rows();
                daily = daily(meters).rows();
                assertEquals(monthly(meters, true).rows(), monthly, "rollups and detail agree");
            }
        }
        List<Path> totals = totalsFiles();
        assertFalse(totals.isEmpty());

        for (Path t : totals) {
            doubleTotals(t);
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
            sealAndCompact(store);
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

    /**
     * Totals that fail a check (a flipped byte, a cut file, the Parquet totals of an older store)
     * are not used: the part is read from its hourly rows and the answer is unchanged.
     */
    @Test
    void query_damagedOrOldFormatTotals_answersFromHourlyRows() throws Exception {
        List<MeterRow> monthly;
        try (TieredStore store = StoreFixture.open(StoreFixture.config(dir, clock))) {
            sealAndCompact(store);
            try (MeterService meters = new MeterService(store, CompactionTest.registry(), 0)) {
                monthly = monthly(meters).rows();
            }
        }
        List<Path> totals = totalsFiles();
        assertTrue(totals.size() >= 3, "totals " + totals);
        for (Path t : totals) {
            doubleTotals(t); // a damaged file that were read would give a doubled answer
        }
        byte[] flipped = Files.readAllBytes(totals.get(0));
        flipped[11] ^= 0x10; // inside the first block, after the 8-byte header
        Files.write(totals.get(0), flipped);
        byte[] cut = Files.readAllBytes(totals.get(1));
        Files.write(totals.get(1), java.util.Arrays.copyOf(cut, cut.length - 5));
        for (int i = 2; i < totals.size(); i++) {
            Files.delete(totals.get(i));
        }
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement s = c.createStatement()) {
            // The totals of a store before this format: a Parquet file under the same name.
            s.execute("COPY (SELECT 1 AS value_count) TO '" + totals.get(2) + "' (FORMAT parquet)");
        }
        try (TieredStore store = StoreFixture.open(StoreFixture.config(dir, clock));
                MeterService meters = new MeterService(store, CompactionTest.registry(), 0)) {
            assertEquals(monthly, monthly(meters).rows(), "every part read from its hourly rows");
            assertEquals(monthly, monthly(meters).rows(), "again, after the warnings");
        }
    }

    /** The archive check reads every totals file whole: a damaged one is reported and deleted, and answers stay the same. */
    @Test
    void verifyParts_damagedTotals_reportedAndDeleted() throws Exception {
        try (TieredStore store = StoreFixture.open(StoreFixture.config(dir, clock))) {
            sealAndCompact(store);
            List<Path> totals = totalsFiles();
            assertEquals(List.of(), store.verifyParts(), "sound totals are no problem");
            try (MeterService meters = new MeterService(store, CompactionTest.registry(), 0)) {
                List<MeterRow> monthly = monthly(meters).rows();
                byte[] b = Files.readAllBytes(totals.get(0));
                b[b.length - 20] ^= 0x01; // in the footer
                Files.write(totals.get(0), b);
                List<String> problems = store.verifyParts();
                assertEquals(1, problems.size(), problems.toString());
                assertTrue(problems.get(0).contains(".totals: ") && problems.get(0).contains("deleted"), problems.get(0));
                assertFalse(Files.exists(totals.get(0)));
                assertEquals(totals.subList(1, totals.size()), totalsFiles());
                assertEquals(monthly, monthly(meters).rows(), "the part answers from its hourly rows");
                assertEquals(List.of(), store.verifyParts());
            }
        }
    }

    /**
     * Subjects whose order depends on how text is compared (upper and lower case, accents,
     * characters beyond the Basic Multilingual Plane) are written in the order the engine sorts
     * them, and each is found again.
     */
    @Test
    void sealNow_subjectsOfEveryTextOrder_totalsWrittenAndFound() throws Exception {
        Instant t = StoreFixture.NOW.minus(Duration.ofHours(2));
        List<String> subjects = List.of("a", "Z", "z", "é", "e\u0301", "\uD83D\uDE00", "\uFF21", "key-10", "key-9", "k");
        List<UsageEvent> events = new ArrayList<>();
        for (int i = 0; i < subjects.size(); i++) {
            events.add(event("acme", "u" + i, subjects.get(i), t, i + 1));
            events.add(event("acme", "v" + i, subjects.get(i), t.plus(Duration.ofMinutes(1)), 100));
        }
        try (TieredStore store = StoreFixture.open(StoreFixture.config(dir, clock))) {
            assertEquals(events.size(), store.append(events).accepted());
            store.sealNow();
            assertEquals(1, totalsFiles().size(), "totals written");
            assertTotalsMatchParts(CompactionTest.manifest(store));
            try (MeterService meters = new MeterService(store, CompactionTest.registry(), 0)) {
                for (int i = 0; i < subjects.size(); i++) {
                    MeterResult r = meters.query(MeterQuery.builder("input_tokens", "acme", FROM, TO)
                            .subjects(subjects.get(i)).build());
                    assertEquals(1, r.rows().size(), subjects.get(i));
                    assertEquals(101 + i, r.rows().get(0).value().intValue(), subjects.get(i));
                    assertEquals(2, r.rows().get(0).events());
                }
                MeterResult all = meters.query(MeterQuery.builder("input_tokens", "acme", FROM, TO).build());
                assertEquals(subjects.size(), all.rows().size(), "one row per subject");
            }
        }
    }

    /** 800 events over 20 days, sealed, then every closed day compacted. */
    private static void sealAndCompact(TieredStore store) {
        store.append(TestEvents.batch("acme", "a", 800, 7, StoreFixture.NOW, Duration.ofDays(20), 1));
        store.sealNow();
        store.compact(true);
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

    /** Each published rollup part's totals hold exactly its rows summed per tenant, type, subject and property, in order. */
    private void assertTotalsMatchParts(Manifest m) throws Exception {
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement s = c.createStatement()) {
            for (SealedPart p : m.parts(PartKind.ROLLUP)) {
                Path part = dir.resolve(p.path());
                Path totals = TotalsFile.of(part);
                assertTrue(Files.exists(totals), "totals of " + p.path());
                List<TotalsFormat.Entry> summed = new ArrayList<>();
                try (ResultSet rs = s.executeQuery("SELECT tenant, type, subject, property, sum(value_count)::BIGINT, "
                        + "sum(value_sum), min(value_min), max(value_max) FROM read_parquet('" + part + "') GROUP BY ALL "
                        + "ORDER BY tenant, type, subject, property NULLS FIRST")) {
                    while (rs.next()) {
                        summed.add(new TotalsFormat.Entry(rs.getString(1), rs.getString(2), rs.getString(3),
                                rs.getString(4), rs.getLong(5), rs.getBigDecimal(6), rs.getBigDecimal(7),
                                rs.getBigDecimal(8)));
                    }
                }
                assertFalse(summed.isEmpty());
                assertEquals(summed, entries(totals), "totals of " + p.path());
            }
        }
    }

    static List<TotalsFormat.Entry> entries(Path totals) throws Exception {
        List<TotalsFormat.Entry> out = new ArrayList<>();
        try (TotalsFormat.Reader r = TotalsFormat.Reader.open(totals)) {
            r.forEach(out::add);
        }
        return out;
    }

    /** Replaces a totals file by itself with every count and sum doubled. */
    private static void doubleTotals(Path totals) throws Exception {
        List<TotalsFormat.Entry> entries = entries(totals);
        Path tmp = totals.resolveSibling("rewritten.totals");
        try (TotalsFormat.Writer w = new TotalsFormat.Writer(FileChannel.open(tmp, StandardOpenOption.CREATE_NEW,
                StandardOpenOption.WRITE))) {
            for (TotalsFormat.Entry e : entries) {
                w.add(new TotalsFormat.Entry(e.tenant(), e.type(), e.subject(), e.property(), e.count() * 2,
                        e.sum() == null ? null : e.sum().multiply(java.math.BigDecimal.valueOf(2)), e.min(), e.max()));
            }
            w.finish();
        }
        Files.move(tmp, totals, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }
}
