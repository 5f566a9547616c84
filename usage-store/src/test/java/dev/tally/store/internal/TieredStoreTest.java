package dev.tally.store.internal;

import static dev.tally.store.testing.TestEvents.event;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tally.store.AppendResult;
import dev.tally.store.ImportPosition;
import dev.tally.store.RejectReason;
import dev.tally.store.SegmentInfo;
import dev.tally.store.StoreException;
import dev.tally.store.Totals;
import dev.tally.store.UsageEvent;
import dev.tally.store.testing.MutableClock;
import dev.tally.store.testing.TestEvents;
import java.math.BigDecimal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TieredStoreTest {
    @TempDir
    Path dir;

    private final MutableClock clock = new MutableClock(StoreFixture.NOW);
    private static final Instant T = StoreFixture.NOW.minusSeconds(60);
    private static final Instant FROM = StoreFixture.NOW.minus(Duration.ofDays(30));
    private static final Instant TO = StoreFixture.NOW.plusSeconds(1);

    /** Events appended to the active segment are counted and summed exactly. */
    @Test
    void append_storesEventsAndTotalsAreExact() {
        try (TieredStore store = StoreFixture.open(StoreFixture.config(dir, clock))) {
            AppendResult r = store.append(List.of(event("acme", "a", "k1", T, 10),
                    new UsageEvent("acme", "b", "llm.request", "k1", null, T, "{\"input_tokens\":0.000000001}")));
            assertEquals(new AppendResult(2, 0, List.of()), r);
            Totals t = store.total("acme", "llm.request", "k1", "$.input_tokens", FROM, TO);
            assertEquals(2, t.events());
            assertEquals(new BigDecimal("10.000000001"), t.sum().stripTrailingZeros());
        }
    }

    /** Sums keep every digit of DECIMAL(38,9) in every tier (no pass through a double), and a string "12" is not a number. */
    @Test
    void total_keepsEveryDigitAcrossTiers() {
        try (TieredStore store = StoreFixture.open(StoreFixture.config(dir, clock))) {
            String big = "12345678901234567890.123456789";
            store.append(List.of(new UsageEvent("acme", "a", "t", "k", null, T, "{\"v\":" + big + ",\"n\":{\"w\":1}}"),
                    new UsageEvent("acme", "s", "t", "k", null, T, "{\"v\":\"12\",\"n\":{\"w\":2}}")));
            Totals active = store.total("acme", "t", "k", "$.v", FROM, TO);
            store.sealNow();
            Totals sealed = store.total("acme", "t", "k", "$.v", FROM, TO);
            assertEquals(active, sealed);
            assertEquals(new BigDecimal(big), sealed.sum().stripTrailingZeros());
            assertEquals(2, sealed.events());
            assertEquals(1, sealed.values(), "the string \"12\" is not counted as a number");
            assertEquals(3, store.total("acme", "t", "k", "$.n.w", FROM, TO).sum().intValue());
        }
    }

    /** A duplicate of an event already sealed into Parquet is not stored again. */
    @Test
    void append_duplicateOfSealedEventIsRejected() {
        try (TieredStore store = StoreFixture.open(StoreFixture.config(dir, clock))) {
            store.append(List.of(event("acme", "a", "k1", T, 10)));
            store.sealNow();
            assertTrue(store.segments().stream().anyMatch(s -> s.state() == SegmentInfo.State.SEALED_DETAIL));
            AppendResult r = store.append(List.of(event("acme", "a", "k1", T, 10), event("acme", "b", "k1", T, 5)));
            assertEquals(1, r.accepted());
            assertEquals(1, r.duplicates());
            assertEquals(15, store.total("acme", "llm.request", "k1", "$.input_tokens", FROM, TO).sum().intValue());
        }
    }

    /** Duplicates stay duplicates after a restart: the dedup index is rebuilt from every tier. */
    @Test
    void append_duplicateAfterReopenIsRejected() {
        try (TieredStore store = StoreFixture.open(StoreFixture.config(dir, clock))) {
            store.append(List.of(event("acme", "sealed", "k1", T, 1)));
            store.sealNow();
            store.append(List.of(event("acme", "active", "k1", T, 1)));
        }
        try (TieredStore store = StoreFixture.open(StoreFixture.config(dir, clock))) {
            AppendResult r = store.append(List.of(event("acme", "sealed", "k1", T, 1),
                    event("acme", "active", "k1", T, 1), event("other", "sealed", "k1", T, 1)));
            assertEquals(1, r.accepted(), "same id under another tenant is a different event");
            assertEquals(2, r.duplicates());
        }
    }

    /** A duplicate inside one batch is stored once. */
    @Test
    void append_duplicateInsideBatchIsStoredOnce() {
        try (TieredStore store = StoreFixture.open(StoreFixture.config(dir, clock))) {
            AppendResult r = store.append(List.of(event("acme", "a", "k1", T, 10), event("acme", "a", "k1", T, 10)));
            assertEquals(new AppendResult(1, 1, List.of()), r);
            assertEquals(1, store.total("acme", "llm.request", "k1", "$.input_tokens", FROM, TO).events());
        }
    }

    /** In a batch of 5,000 where every seventh event repeats an earlier id, each id is stored once. */
    @Test
    void append_manyDuplicatesInsideLargeBatch_eachIdStoredOnce() {
        try (TieredStore store = StoreFixture.open(StoreFixture.config(dir, clock))) {
            List<UsageEvent> batch = new java.util.ArrayList<>();
            int repeats = 0;
            for (int i = 0; i < 5_000; i++) {
                boolean repeat = i % 7 == 6;
                repeats += repeat ? 1 : 0;
                int k = repeat ? i - 6 : i; // an id first given six events earlier
                batch.add(event(k % 2 == 0 ? "acme" : "globex", "e-" + k, "k1", T, 1));
            }
            AppendResult r = store.append(batch);
            assertEquals(new AppendResult(5_000 - repeats, repeats, List.of()), r);
            assertEquals(5_000 - repeats, store.total("acme", "llm.request", "k1", "$.input_tokens", FROM, TO).events()
                    + store.total("globex", "llm.request", "k1", "$.input_tokens", FROM, TO).events());
        }
    }

    /** Validation errors are reported per event while the valid events of the batch are stored. */
    @Test
    void append_invalidEventsAreReportedAndValidOnesStored() {
        try (TieredStore store = StoreFixture.open(StoreFixture.config(dir, clock))) {
            List<UsageEvent> batch = List.of(
                    event("acme", "ok", "k1", T, 1),
                    event("acme", "old", "k1", StoreFixture.NOW.minus(Duration.ofDays(36)), 1),
                    event("acme", "future", "k1", StoreFixture.NOW.plus(Duration.ofMinutes(6)), 1),
                    new UsageEvent("acme", "nan", "t", "k1", null, T, "{\"x\":NaN}"),
                    new UsageEvent("acme", "big", "t", "k1", null, T, "{\"x\":1e40}"),
                    new UsageEvent("bad tenant", "x", "t", "k1", null, T, "{}"),
                    new UsageEvent("acme", "", "t", "k1", null, T, "{}"),
                    new UsageEvent("acme", "arr", "t", "k1", null, T, "[1]"));
            AppendResult r = store.append(batch);
            assertEquals(1, r.accepted());
            List<RejectReason> reasons = r.rejected().stream().map(x -> x.reason()).toList();
            assertEquals(List.of(RejectReason.TIME_TOO_OLD, RejectReason.TIME_IN_FUTURE,
                    RejectReason.NON_FINITE_NUMBER, RejectReason.NUMBER_OUT_OF_RANGE, RejectReason.INVALID_FIELD,
                    RejectReason.MISSING_FIELD, RejectReason.DATA_NOT_OBJECT), reasons);
            assertEquals(1, r.rejected().get(0).index());
            assertTrue(r.rejected().get(0).message().contains("maxEventAge"), r.rejected().get(0).message());
        }
    }

    /** A write that fails stores nothing of its batch and marks no id as seen, so a retry stores it. */
    @Test
    void append_failedWriteStoresNothingAndMarksNothingSeen() {
        boolean[] fail = {true};
        AppendSeam failing = seq -> {
            if (fail[0]) {
                throw new IllegalStateException("disk full (simulated)");
            }
        };
        try (TieredStore store = StoreFixture.open(StoreFixture.config(dir, clock),
                TieredStore.DEFAULT_HOOKS.withSeam(failing))) {
            List<UsageEvent> batch = TestEvents.batch("acme", "e", 5_000, 3, T, Duration.ofHours(1), 1);
            assertThrows(IllegalStateException.class, () -> store.append(batch, new ImportPosition("s", 10, "", "")));
            assertEquals(0, countAll(store));
            assertTrue(store.importPositions().isEmpty(), "position must not move without its rows");
            fail[0] = false;
            AppendResult r = store.append(batch);
            assertEquals(5_000, r.accepted());
            assertEquals(5_000, countAll(store));
        }
    }

    /** The import position commits with its rows and survives rollover, seal and reopen. */
    @Test
    void append_importPositionCommitsWithRowsAndSurvivesSeal() {
        try (TieredStore store = StoreFixture.open(StoreFixture.config(dir, clock))) {
            store.append(List.of(event("acme", "a", "k1", T, 1)), new ImportPosition("journal:j1", 120, "f1", "i1"));
            store.sealNow();
            store.append(List.of(), new ImportPosition("journal:j2", 7, "", ""));
        }
        try (TieredStore store = StoreFixture.open(StoreFixture.config(dir, clock))) {
            assertEquals(new ImportPosition("journal:j1", 120, "f1", "i1"), store.importPositions().get("journal:j1"));
            assertEquals(7, store.importPositions().get("journal:j2").offset());
        }
    }

    /**
     * A source's position moves with every batch (updated in place), stays put when a batch fails,
     * moves on after the failure, the rollover and a forget (inserted again), and the last one committed is kept.
     */
    @Test
    void append_importPositionMovesAcrossFailureRolloverAndForget() {
        boolean[] fail = {false};
        AppendSeam failing = seq -> {
            if (fail[0]) {
                throw new IllegalStateException("disk full (simulated)");
            }
        };
        UsageEvent c = event("acme", "c", "k1", T, 1);
        try (TieredStore store = StoreFixture.open(StoreFixture.config(dir, clock),
                TieredStore.DEFAULT_HOOKS.withSeam(failing))) {
            store.append(List.of(event("acme", "a", "k1", T, 1)), new ImportPosition("journal:j1", 10, "f1", "i1"));
            store.append(List.of(event("acme", "b", "k1", T, 1)), new ImportPosition("journal:j1", 20, "f2", "i1"));
            fail[0] = true;
            assertThrows(IllegalStateException.class,
                    () -> store.append(List.of(c), new ImportPosition("journal:j1", 30, "f3", "i1")));
            assertEquals(new ImportPosition("journal:j1", 20, "f2", "i1"), store.importPositions().get("journal:j1"));
            fail[0] = false;
            store.append(List.of(c), new ImportPosition("journal:j1", 30, "f3", "i1"));
            store.sealNow();
            store.append(List.of(), new ImportPosition("journal:j1", 40, "f4", "i1"));
            assertEquals(1, store.forgetImportPositions(List.of("journal:j1")));
            store.append(List.of(), new ImportPosition("journal:j1", 5, "f5", "i2"));
        }
        try (TieredStore store = StoreFixture.open(StoreFixture.config(dir, clock))) {
            assertEquals(java.util.Map.of("journal:j1", new ImportPosition("journal:j1", 5, "f5", "i2")),
                    store.importPositions());
            assertEquals(3, countAll(store));
        }
    }

    /** Seal writes zstd Parquet detail in day folders plus rollups, and totals are unchanged by it. */
    @Test
    void sealNow_writesDayPartsAndRollupsWithSameTotals() throws Exception {
        try (TieredStore store = StoreFixture.open(StoreFixture.config(dir, clock))) {
            List<UsageEvent> batch = TestEvents.batch("acme", "e", 3_000, 4, StoreFixture.NOW, Duration.ofDays(3), 7);
            store.append(batch);
            Totals before = store.total("acme", "llm.request", "key-1", "$.input_tokens", FROM, TO);
            store.sealNow();
            Totals after = store.total("acme", "llm.request", "key-1", "$.input_tokens", FROM, TO);
            assertEquals(before, after);
            long expected = batch.stream().filter(e -> e.subject().equals("key-1"))
                    .mapToLong(e -> Long.parseLong(e.data().replaceAll(".*\"input_tokens\":(\\d+).*", "$1"))).sum();
            assertEquals(expected, after.sum().longValueExact());
            try (Stream<Path> s = Files.walk(dir.resolve("archive"))) {
                List<String> days = s.filter(Files::isDirectory).map(p -> p.getFileName().toString())
                        .filter(n -> n.startsWith("day=")).sorted().toList();
                assertTrue(days.size() >= 3, days.toString());
            }
            assertTrue(store.segments().stream().anyMatch(x -> x.state() == SegmentInfo.State.SEALED_ROLLUP));
            // a second total is served from the per-part cache and agrees
            assertEquals(after, store.total("acme", "llm.request", "key-1", "$.input_tokens", FROM, TO));
        }
    }

    /** A second writer on the same data directory fails fast with a clear message. */
    @Test
    void open_secondWriterOnSameDirFails() {
        try (TieredStore store = StoreFixture.open(StoreFixture.config(dir, clock))) {
            StoreException e = assertThrows(StoreException.class, () -> StoreFixture.open(StoreFixture.config(dir, clock)));
            assertTrue(e.getMessage().contains("already open"), e.getMessage());
        }
    }

    /** A second open in the same JVM is refused without dropping the first store's lock at the OS level. */
    @Test
    void open_secondInSameJvmKeepsFirstLock() throws Exception {
        try (TieredStore store = StoreFixture.open(StoreFixture.config(dir, clock))) {
            StoreException e = assertThrows(StoreException.class, () -> StoreFixture.open(StoreFixture.config(dir, clock)));
            assertTrue(e.getMessage().contains("this process"), e.getMessage());
            Path log = Files.createTempFile(dir, "child", ".log");
            try (dev.tally.store.testing.ChildJvm child = dev.tally.store.testing.ChildJvm.start(
                    dev.tally.store.testing.LockProbeChild.class, log, dir.resolve("store.lock").toString())) {
                assertEquals("HELD", child.await("", 60), "another process must still see the lock");
            }
        }
        try (TieredStore again = StoreFixture.open(StoreFixture.config(dir, clock))) {
            assertEquals(0, again.segments().stream().filter(s -> s.rows() > 0).count());
        }
    }

    /** A size-triggered rollover seals in the background and loses nothing. */
    @Test
    void append_sizeRolloverSealsAndKeepsEveryEvent() {
        try (TieredStore store = StoreFixture.open(StoreFixture.config(dir, clock, 1L << 20))) {
            int total = 0;
            for (int b = 0; b < 20; b++) {
                List<UsageEvent> batch = TestEvents.batch("acme", "b" + b, 2_000, 10, T, Duration.ofHours(2), b);
                total += store.append(batch).accepted();
            }
            assertTrue(store.segments().stream().filter(s -> s.state() == SegmentInfo.State.SEALED_DETAIL).count() > 0);
            assertEquals(total, countAll(store));
        }
    }

    static long countAll(TieredStore store) {
        long n = 0;
        for (int k = 0; k < 10; k++) {
            n += store.total("acme", "llm.request", "key-" + k, "$.input_tokens", FROM, TO).events();
        }
        return n + store.total("acme", "llm.request", "k1", "$.input_tokens", FROM, TO).events();
    }

    static List<String> ids(List<UsageEvent> events) {
        List<String> out = new ArrayList<>();
        events.forEach(e -> out.add(e.id()));
        return out;
    }
}
