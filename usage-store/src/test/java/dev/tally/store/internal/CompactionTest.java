package dev.tally.store.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tally.store.CompactionReport;
import dev.tally.store.meter.Aggregation;
import dev.tally.store.meter.MeterDefinition;
import dev.tally.store.meter.MeterQuery;
import dev.tally.store.meter.MeterRegistry;
import dev.tally.store.meter.MeterResult;
import dev.tally.store.meter.MeterService;
import dev.tally.store.meter.WindowSize;
import dev.tally.store.testing.MutableClock;
import dev.tally.store.testing.TestEvents;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Compaction of closed days: same answers, fewer files, dedup and retention follow the merged parts. */
class CompactionTest {
    @TempDir
    Path dir;

    private final MutableClock clock = new MutableClock(StoreFixture.NOW);

    /** Twenty days in two segments, appended and sealed in two rounds (every day has two parts of each kind). */
    static void loadTwoSegments(TieredStore store, String prefix) {
        for (int round = 0; round < 2; round++) {
            store.append(TestEvents.batch("acme", prefix + round, 500, 7, StoreFixture.NOW, Duration.ofDays(20),
                    round + 1));
            store.sealNow();
        }
    }

    /** Compacting every closed day leaves one rollup part per month and one detail part per week, with every answer unchanged. */
    @Test
    void compact_allClosedDaysMergesPartsAndKeepsEveryAnswer() throws Exception {
        try (TieredStore store = StoreFixture.open(StoreFixture.config(dir, clock));
                MeterService meters = new MeterService(store, registry(), 0)) {
            loadTwoSegments(store, "a");
            Answers before = answers(store, meters);
            int partsBefore = manifest(store).parts().size();

            CompactionReport report = store.compact(true);

            assertFalse(report.units().isEmpty());
            Manifest m = manifest(store);
            LocalDate today = LocalDate.ofInstant(StoreFixture.NOW, ZoneOffset.UTC);
            for (SealedPart p : m.parts()) {
                if (!p.compacted()) {
                    assertTrue(!p.day().isBefore(today) || p.kind() == PartKind.DETAIL,
                            "only today's rollups stay sealed: " + p.path());
                }
            }
            Map<LocalDate, Long> rollupUnits = m.parts(PartKind.ROLLUP).stream().filter(SealedPart::compacted)
                    .collect(Collectors.groupingBy(SealedPart::day, Collectors.counting()));
            assertEquals(Map.of(LocalDate.parse("2026-10-01"), 1L, LocalDate.parse("2026-11-01"), 1L), rollupUnits);
            assertTrue(m.parts(PartKind.DETAIL).stream().filter(SealedPart::compacted).count() >= 3,
                    "the detail of 20 days spans at least three ISO weeks");
            assertTrue(manifest(store).parts().size() < partsBefore / 3, "far fewer parts than the " + partsBefore);
            assertEquals(before, answers(store, meters));
            CompactionTest.assertExactlyOnce(store, 1_000);
            assertEquals(Set.copyOf(m.paths()), parquetFilesOnDisk(), "every source file is deleted");
            assertSidecarsMatch(dir, m);

            assertEquals(0, store.append(TestEvents.batch("acme", "a1", 500, 7, StoreFixture.NOW,
                    Duration.ofDays(20), 2)).accepted(), "the dedup check finds ids in compacted parts");
        }
        try (TieredStore again = StoreFixture.open(StoreFixture.config(dir, clock));
                MeterService meters = new MeterService(again, registry(), 0)) {
            CompactionTest.assertExactlyOnce(again, 1_000);
            assertEquals(0, again.append(TestEvents.batch("acme", "a0", 500, 7, StoreFixture.NOW,
                    Duration.ofDays(20), 1)).accepted(), "the rebuilt dedup index covers compacted parts");
            assertEquals(0, again.compact(true).units().size(), "nothing left to compact");
        }
    }

    /** Compacting a unit again merges its previous compacted part with the parts sealed since, in a new generation. */
    @Test
    void compact_againMergesThePreviousCompactedPart() throws Exception {
        try (TieredStore store = StoreFixture.open(StoreFixture.config(dir, clock));
                MeterService meters = new MeterService(store, registry(), 0)) {
            loadTwoSegments(store, "a");
            store.compact(true);
            clock.advance(Duration.ofDays(2));
            store.append(TestEvents.batch("acme", "late", 800, 7, clock.instant(), Duration.ofDays(6), 9));
            store.sealNow();
            Answers before = answers(store, meters);

            store.compact(true);

            Manifest m = manifest(store);
            List<SealedPart> november = m.parts(PartKind.ROLLUP).stream()
                    .filter(p -> p.compacted() && p.day().equals(LocalDate.parse("2026-11-01"))).toList();
            assertEquals(1, november.size(), "one compacted part per unit: " + november);
            assertTrue(november.get(0).path().endsWith("-g2.parquet"), november.get(0).path());
            assertEquals(before, answers(store, meters));
            CompactionTest.assertExactlyOnce(store, 1_800);
            assertEquals(Set.copyOf(m.paths()), parquetFilesOnDisk());
        }
    }

    /** A manifest rebuilt by repair from the files of a compacted store names the compacted parts, not their sources. */
    @Test
    void rebuildManifest_afterCompactionKeepsEveryEventOnce() throws Exception {
        Answers before;
        try (TieredStore store = StoreFixture.open(StoreFixture.config(dir, clock));
                MeterService meters = new MeterService(store, registry(), 0)) {
            loadTwoSegments(store, "a");
            store.compact(true);
            before = answers(store, meters);
        }
        Files.delete(dir.resolve(SegmentFiles.MANIFEST_FILE));
        dev.tally.store.repair.StoreRepair.rebuildManifest(dir, clock);
        try (TieredStore store = StoreFixture.open(StoreFixture.config(dir, clock));
                MeterService meters = new MeterService(store, registry(), 0)) {
            CompactionTest.assertExactlyOnce(store, 1_000);
            assertEquals(before, answers(store, meters));
            assertTrue(manifest(store).parts().stream().anyMatch(SealedPart::compacted));
            TierView v = store.acquireView();
            try {
                assertEquals(List.of(), DetailCoverage.lostDays(v, StoreFixture.NOW.minus(Duration.ofDays(25)),
                        StoreFixture.NOW));
            } finally {
                v.release();
            }
        }
    }

    /**
     * Late parts for days a compacted unit already holds wait (below LATE_PARTS_TO_MERGE) instead
     * of rewriting the unit at every pass; answers count them meanwhile.
     */
    @Test
    void compact_lateParts_waitForANewDayOrEnoughOfThem() throws Exception {
        try (TieredStore store = StoreFixture.open(StoreFixture.config(dir, clock));
                MeterService meters = new MeterService(store, registry(), 0)) {
            loadTwoSegments(store, "a");
            store.compact(true);
            Manifest compacted = manifest(store);
            // Late events for days 3 to 10 ago: every unit they fall in is compacted already.
            store.append(TestEvents.batch("acme", "late", 300, 7, StoreFixture.NOW.minus(Duration.ofDays(3)),
                    Duration.ofDays(7), 11));
            store.sealNow();
            Answers before = answers(store, meters);

            assertEquals(List.of(), store.compact(true).units());

            Manifest m = manifest(store);
            assertTrue(m.parts().containsAll(compacted.parts()), "the compacted parts are unchanged");
            assertEquals(before, answers(store, meters));
            CompactionTest.assertExactlyOnce(store, 1_300);
            TierView v = store.acquireView();
            try {
                assertEquals(List.of(), DetailCoverage.lostDays(v, StoreFixture.NOW.minus(Duration.ofDays(25)),
                        StoreFixture.NOW));
            } finally {
                v.release();
            }
        }
    }

    /** maintain() compacts only days that ended at least compactAfter ago. */
    @Test
    void maintain_compactsOnlyDaysOlderThanCompactAfter() {
        try (TieredStore store = StoreFixture.open(StoreFixture.config(dir, clock))) {
            loadTwoSegments(store, "a");
            store.maintain();
            LocalDate lastEligible = LocalDate.ofInstant(StoreFixture.NOW.minus(Duration.ofDays(1)), ZoneOffset.UTC)
                    .minusDays(1);
            Manifest m = manifest(store);
            assertTrue(m.parts().stream().anyMatch(SealedPart::compacted));
            for (SealedPart p : m.parts(PartKind.ROLLUP)) {
                if (p.compacted()) {
                    assertFalse(p.lastDay().isAfter(lastEligible), p.path() + " holds a day that is too recent");
                } else {
                    assertTrue(p.day().isAfter(lastEligible), p.path() + " should have been compacted");
                }
            }
        }
    }

    /**
     * A compacted detail part is deleted when its newest row expires; its days are then reported
     * lost on the compacted rollups, and its ids leave the dedup index.
     */
    @Test
    void retention_deletesCompactedDetailAndRecordsItsDaysLost() throws Exception {
        try (TieredStore store = StoreFixture.open(StoreFixture.config(dir, clock))) {
            loadTwoSegments(store, "a");
            store.compact(true);
            Manifest m = manifest(store);
            SealedPart oldestWeek = m.parts(PartKind.DETAIL).stream().filter(SealedPart::compacted)
                    .min((a, b) -> a.maxTime().compareTo(b.maxTime())).orElseThrow();
            TierView v0 = store.acquireView();
            try {
                assertEquals(List.of(), DetailCoverage.lostDays(v0, StoreFixture.NOW.minus(Duration.ofDays(25)),
                        StoreFixture.NOW));
            } finally {
                v0.release();
            }
            // Just past the oldest week's newest row plus the detail retention.
            clock.set(oldestWeek.maxTime().plus(Duration.ofDays(35)).plusSeconds(1));
            store.retention(false);

            Manifest after = manifest(store);
            assertFalse(after.paths().contains(oldestWeek.path()));
            assertFalse(Files.exists(dir.resolve(oldestWeek.path())));
            TierView v = store.acquireView();
            try {
                List<String> lost = DetailCoverage.lostDays(v, StoreFixture.NOW.minus(Duration.ofDays(25)),
                        StoreFixture.NOW);
                for (LocalDate d = oldestWeek.firstDay(); !d.isAfter(oldestWeek.lastDay()); d = d.plusDays(1)) {
                    assertTrue(lost.contains(d.toString()), d + " lost with " + oldestWeek.path() + ": " + lost);
                }
                assertFalse(lost.contains(oldestWeek.lastDay().plusDays(1).toString()), "the next week is complete");
            } finally {
                v.release();
            }
        }
    }

    /** A manifest written before compaction existed (no minSeq) reads every part with minSeq equal to seq. */
    @Test
    void manifest_withoutMinSeqReadsMinSeqAsSeq() throws Exception {
        SealedPart p = new SealedPart(7, PartKind.DETAIL, LocalDate.parse("2026-11-19"),
                "archive/day=2026-11-19/segment-00000000000000000007.parquet", StoreFixture.NOW, StoreFixture.NOW,
                1, 10, 5);
        Path file = dir.resolve("manifest.json");
        new Manifest(7, List.of(p)).write(file);
        String json = Files.readString(file);
        var root = (com.fasterxml.jackson.databind.node.ObjectNode) new com.fasterxml.jackson.databind.ObjectMapper()
                .readTree(json);
        ((com.fasterxml.jackson.databind.node.ObjectNode) root.get("parts").get(0)).remove("minSeq");
        root.remove("checksum");
        var mapper = new com.fasterxml.jackson.databind.ObjectMapper();
        java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
        crc.update(mapper.writeValueAsBytes(root));
        root.put("checksum", Long.toHexString(crc.getValue()));
        Files.writeString(file, mapper.writeValueAsString(root));

        SealedPart read = Manifest.read(file).parts().get(0);
        assertEquals(7, read.minSeq());
        assertFalse(read.compacted());
        assertEquals(p, read);
    }

    private Set<String> parquetFilesOnDisk() throws Exception {
        return filesOnDisk(dir, SegmentFiles.PARQUET_SUFFIX);
    }

    static Set<String> filesOnDisk(Path dir, String suffix) throws Exception {
        try (Stream<Path> s = Files.walk(dir)) {
            return s.filter(f -> f.toString().endsWith(suffix))
                    .map(f -> dir.relativize(f).toString().replace('\\', '/')).collect(Collectors.toSet());
        }
    }

    /** Every published detail part has its key sidecar, every rollup part its totals, and no other sidecar is left. */
    static void assertSidecarsMatch(Path dir, Manifest m) throws Exception {
        assertEquals(m.parts(PartKind.DETAIL).stream().map(p -> p.path() + KeysFile.SUFFIX).collect(Collectors.toSet()),
                filesOnDisk(dir, KeysFile.SUFFIX));
        assertEquals(m.parts(PartKind.ROLLUP).stream().map(p -> p.path() + TotalsFile.SUFFIX).collect(Collectors.toSet()),
                filesOnDisk(dir, TotalsFile.SUFFIX));
    }

    static MeterRegistry registry() {
        MeterRegistry reg = new MeterRegistry();
        reg.register(new MeterDefinition("input_tokens", "llm.request", Aggregation.SUM, "$.input_tokens",
                Map.of("model", "$.model"), Map.of()));
        return reg;
    }

    /** The answers compaction must not change: meter totals from rollups and from detail, and store totals. */
    record Answers(List<?> monthlyRollup, List<?> monthlyDetail, List<?> dailyRollup, String total) {
    }

    static Answers answers(TieredStore store, MeterService meters) {
        Instant from = StoreFixture.NOW.minus(Duration.ofDays(30)).truncatedTo(java.time.temporal.ChronoUnit.DAYS);
        Instant to = StoreFixture.NOW.plus(Duration.ofHours(1));
        MeterResult monthly = meters.query(MeterQuery.builder("input_tokens", "acme", from, to).subjects("key-3")
                .build());
        MeterResult detail = meters.query(MeterQuery.builder("input_tokens", "acme", from, to).subjects("key-3")
                .detailOnly(true).build());
        MeterResult daily = meters.query(MeterQuery.builder("input_tokens", "acme", from, to)
                .window(WindowSize.DAY, java.time.ZoneId.of("Europe/Berlin")).build());
        assertEquals(MeterResult.Source.ROLLUP, monthly.source());
        assertEquals(monthly.rows(), detail.rows());
        return new Answers(monthly.rows(), detail.rows(), daily.rows(),
                store.total("acme", "llm.request", "key-3", "$.input_tokens", from, to).toString());
    }

    static Manifest manifest(TieredStore store) {
        TierView v = store.acquireView();
        try {
            return v.manifest();
        } finally {
            v.release();
        }
    }

    /** Every event of the store's view exactly once: the view is what compaction must keep equal. */
    static void assertExactlyOnce(TieredStore store, int expected) throws Exception {
        java.util.Map<String, Integer> counts = TierScan.idCounts(store);
        org.junit.jupiter.api.Assertions.assertEquals(expected, counts.size(), "distinct events");
        counts.forEach((id, n) -> org.junit.jupiter.api.Assertions.assertEquals(1, n, id + " stored " + n + " times"));
    }
}
