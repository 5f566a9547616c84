package dev.tally.store.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tally.store.SegmentInfo;
import dev.tally.store.UsageEvent;
import dev.tally.store.testing.ChildJvm;
import dev.tally.store.testing.DiskRows;
import dev.tally.store.testing.MutableClock;
import dev.tally.store.testing.TestEvents;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A child JVM killed ({@code kill -9}) at each named step of rollover, seal and retention, then a
 * reopen, leaves every event stored exactly once, counted from the files on disk.
 */
class SealCrashTest {
    @TempDir
    Path dir;

    private final MutableClock clock = new MutableClock(StoreFixture.NOW);

    static List<UsageEvent> firstBatch() {
        return TestEvents.batch("acme", "a", 600, 5, StoreFixture.NOW, Duration.ofDays(2), 1);
    }

    private static List<UsageEvent> secondBatch() {
        return TestEvents.batch("acme", "b", 300, 5, StoreFixture.NOW, Duration.ofDays(2), 2);
    }

    /** Killed at the named step of a seal and reopened, the store has every event once and seals the rest. */
    @ParameterizedTest
    @EnumSource(value = CrashPoint.Step.class, names = {"ROLLOVER_CHECKPOINTED", "ROLLOVER_CREATED", "SEAL_PART_TMP",
            "SEAL_KEYS_WRITTEN", "SEAL_PARTS_RENAMED", "SEAL_PUBLISHED"})
    void sealNow_killedAtStepThenReopen_everyEventOnceOnDisk(CrashPoint.Step step) throws Exception {
        killChildAt("seal", step);

        StoreFixture.open(StoreFixture.config(dir, clock)).close();
        assertExactlyOnceOnDisk(600);
        try (TieredStore reopened = StoreFixture.open(StoreFixture.config(dir, clock))) {
            reopened.append(secondBatch());
            assertEquals(0, reopened.append(firstBatch()).accepted(), "every first-batch event is a duplicate");
            reopened.sealNow();
            assertTrue(reopened.segments().stream().noneMatch(s -> s.state() == SegmentInfo.State.PENDING));
        }
        assertExactlyOnceOnDisk(900);
        // No sidecar of the crashed seal's unpublished parts is left, and every published part has its own.
        CompactionTest.assertSidecarsMatch(dir, Manifest.read(dir.resolve(SegmentFiles.MANIFEST_FILE)));
    }

    /**
     * Killed after retention took expired parts out of the manifest but before it deleted their
     * files, the store reopens, and no expired event is left in any file once the grace period for
     * unnamed files has passed.
     */
    @Test
    void retention_killedAfterManifestThenReopen_expiredDetailGoneFromDisk() throws Exception {
        try (TieredStore store = StoreFixture.open(StoreFixture.config(dir, clock))) {
            store.append(firstBatch());
            store.sealNow();
        }
        assertExactlyOnceOnDisk(600);
        killChildAt("retention", CrashPoint.RETENTION_PUBLISHED);

        clock.advance(Duration.ofDays(40));
        try (TieredStore reopened = StoreFixture.open(StoreFixture.config(dir, clock))) {
            clock.advance(Duration.ofHours(2)); // past the grace period for files no manifest names
            reopened.retention(false);
        }
        assertExactlyOnceOnDisk(0);
    }

    /** Runs {@link CrashPointChild} and kills it once it reports reaching {@code step}. */
    private void killChildAt(String action, CrashPoint.Step step) throws Exception {
        Path log = dir.resolveSibling(dir.getFileName() + "-child.log");
        try (ChildJvm child = ChildJvm.start(CrashPointChild.class, log, dir.toString(),
                Long.toString(clock.instant().getEpochSecond()), action, step.name())) {
            assertNotNull(child.await("AT " + step, 120), "child never reached " + step + ": " + child.output()
                    + (Files.exists(log) ? "\n" + Files.readString(log) : ""));
            child.kill();
        }
    }

    private void assertExactlyOnceOnDisk(int expected) {
        DiskRows.Scan scan = DiskRows.scan(dir);
        assertEquals(expected, scan.counts().size(), "distinct events in " + scan.files());
        assertEquals(List.of(), scan.doubled(), "stored more than once, in " + scan.files());
    }
}
