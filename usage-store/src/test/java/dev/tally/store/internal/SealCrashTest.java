package dev.tally.store.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tally.store.SegmentInfo;
import dev.tally.store.UsageEvent;
import dev.tally.store.testing.MutableClock;
import dev.tally.store.testing.TestEvents;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** A crash after each step of rollover and seal, then a reopen, leaves every event stored exactly once. */
class SealCrashTest {
    @TempDir
    Path dir;

    private final MutableClock clock = new MutableClock(StoreFixture.NOW);

    /** Thrown by the crash hook; an Error so no store code catches it as a storage failure. */
    static final class SimulatedCrash extends Error {
        private static final long serialVersionUID = 1L;

        SimulatedCrash(String step) {
            super("simulated crash at " + step);
        }
    }

    /** Crashing at the named step and reopening keeps every event exactly once and seals the rest. */
    @ParameterizedTest
    @ValueSource(strings = {CrashPoint.ROLLOVER_CHECKPOINTED, CrashPoint.ROLLOVER_CREATED, CrashPoint.SEAL_PART_TMP,
            CrashPoint.SEAL_KEYS_WRITTEN, CrashPoint.SEAL_PARTS_RENAMED, CrashPoint.SEAL_PUBLISHED})
    void sealNow_crashAtStepThenReopenKeepsEveryEventOnce(String step) throws Exception {
        List<UsageEvent> first = TestEvents.batch("acme", "a", 2_000, 5, StoreFixture.NOW, Duration.ofDays(2), 1);
        List<UsageEvent> second = TestEvents.batch("acme", "b", 1_000, 5, StoreFixture.NOW, Duration.ofDays(2), 2);
        CrashPoint crash = s -> {
            if (s.equals(step)) {
                throw new SimulatedCrash(s);
            }
        };
        TieredStore store = StoreFixture.open(StoreFixture.config(dir, clock), TieredStore.DEFAULT_HOOKS.withCrash(crash));
        store.append(first);
        assertThrows(SimulatedCrash.class, store::sealNow);
        store.abandon();

        try (TieredStore reopened = StoreFixture.open(StoreFixture.config(dir, clock))) {
            assertExactlyOnce(reopened, 2_000);
            reopened.append(second);
            assertEquals(0, reopened.append(first).accepted(), "every first-batch event is a duplicate");
            reopened.sealNow();
            assertExactlyOnce(reopened, 3_000);
            assertTrue(reopened.segments().stream().noneMatch(s -> s.state() == SegmentInfo.State.PENDING));
        }
        try (TieredStore again = StoreFixture.open(StoreFixture.config(dir, clock))) {
            assertExactlyOnce(again, 3_000);
        }
    }

    static void assertExactlyOnce(TieredStore store, int expected) throws Exception {
        Map<String, Integer> counts = TierScan.idCounts(store);
        assertEquals(expected, counts.size(), "distinct events");
        counts.forEach((id, n) -> assertEquals(1, n, id + " stored " + n + " times"));
    }
}
