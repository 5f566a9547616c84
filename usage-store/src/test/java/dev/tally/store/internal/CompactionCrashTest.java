package dev.tally.store.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tally.store.meter.MeterService;
import dev.tally.store.testing.MutableClock;
import dev.tally.store.testing.TestEvents;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** A crash after each step of compaction, then a reopen, keeps every event exactly once and every meter unchanged. */
class CompactionCrashTest {
    /** Thrown by the crash hook; an Error so no store code catches it as a storage failure. */
    static final class SimulatedCrash extends Error {
        private static final long serialVersionUID = 1L;

        SimulatedCrash(CrashPoint.Step step) {
            super("simulated crash at " + step);
        }
    }

    @TempDir
    Path dir;

    private final MutableClock clock = new MutableClock(StoreFixture.NOW);

    /**
     * Crashing at the named step of a compaction and reopening keeps every event exactly once,
     * leaves only files the manifest names, answers every meter as before, and compacts cleanly.
     */
    @ParameterizedTest
    @EnumSource(value = CrashPoint.Step.class, names = {"COMPACT_PART_TMP", "COMPACT_PART_RENAMED",
            "COMPACT_PUBLISHED"})
    void compact_crashAtStepThenReopenKeepsEveryEventOnce(CrashPoint.Step step) throws Exception {
        CrashPoint crash = s -> {
            if (s == step) {
                throw new SimulatedCrash(s);
            }
        };
        CompactionTest.Answers before;
        TieredStore store = StoreFixture.open(StoreFixture.config(dir, clock), TieredStore.DEFAULT_HOOKS.withCrash(crash));
        try (MeterService meters = new MeterService(store, CompactionTest.registry(), 0)) {
            // Seal with the crash armed only for compaction: seal steps have other names.
            CompactionTest.loadTwoSegments(store, "a");
            before = CompactionTest.answers(store, meters);
            assertThrows(SimulatedCrash.class, () -> store.compact(true));
        }
        store.abandon();

        try (TieredStore reopened = StoreFixture.open(StoreFixture.config(dir, clock));
                MeterService meters = new MeterService(reopened, CompactionTest.registry(), 0)) {
            CompactionTest.assertExactlyOnce(reopened, 1_000);
            assertEquals(before, CompactionTest.answers(reopened, meters));
            assertEquals(CompactionTest.manifest(reopened).paths(), parquetFilesOnDisk(),
                    "recovery leaves exactly the files the manifest names");
            CompactionTest.assertSidecarsMatch(dir, CompactionTest.manifest(reopened));
            assertEquals(0, reopened.append(TestEvents.batch("acme", "a1", 500, 7, StoreFixture.NOW,
                    Duration.ofDays(20), 2)).accepted(), "every event is still a duplicate");

            reopened.compact(true);
            CompactionTest.assertExactlyOnce(reopened, 1_000);
            assertEquals(before, CompactionTest.answers(reopened, meters));
            assertEquals(CompactionTest.manifest(reopened).paths(), parquetFilesOnDisk());
            assertTrue(CompactionTest.manifest(reopened).parts().stream().anyMatch(SealedPart::compacted));
            CompactionTest.assertSidecarsMatch(dir, CompactionTest.manifest(reopened));
        }
        try (TieredStore again = StoreFixture.open(StoreFixture.config(dir, clock));
                MeterService meters = new MeterService(again, CompactionTest.registry(), 0)) {
            CompactionTest.assertExactlyOnce(again, 1_000);
            assertEquals(before, CompactionTest.answers(again, meters));
        }
    }

    private Set<String> parquetFilesOnDisk() throws Exception {
        return CompactionTest.filesOnDisk(dir, SegmentFiles.PARQUET_SUFFIX);
    }
}
