package dev.tally.store.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tally.store.testing.SimulatedCrash;
import dev.tally.store.Totals;
import dev.tally.store.UsageEvent;
import dev.tally.store.correct.Correction;
import dev.tally.store.correct.CorrectionResult;
import dev.tally.store.correct.Corrector;
import dev.tally.store.meter.Aggregation;
import dev.tally.store.meter.MeterDefinition;
import dev.tally.store.meter.MeterQuery;
import dev.tally.store.meter.MeterRegistry;
import dev.tally.store.meter.MeterResult;
import dev.tally.store.meter.MeterService;
import dev.tally.store.meter.WindowSize;
import dev.tally.store.testing.MutableClock;
import java.math.BigDecimal;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A crash between a correction's append and its effect on readers (and one before its commit)
 * loses nothing: after reopening, the correction is either wholly in force (rollups, detail and
 * {@code total()} all see it) or wholly absent, and resending it is applied exactly once.
 */
class CorrectionCrashTest {
    private static final Instant NOW = Instant.parse("2026-11-20T12:00:00Z");
    private static final Instant DAY = Instant.parse("2026-11-18T00:00:00Z");

    @TempDir
    Path dir;

    private final MutableClock clock = new MutableClock(NOW);

    /** Crashing at the named step of a correction and reopening leaves it applied once or not at all. */
    @ParameterizedTest
    @EnumSource(value = CrashPoint.Step.class, names = {"CORRECTION_BEFORE_COMMIT", "CORRECTION_APPENDED"})
    void correct_crashAtStepThenReopen_appliedOnceOrNotAtAll(CrashPoint.Step step) throws Exception {
        CrashPoint crash = s -> {
            if (s == step) {
                throw new SimulatedCrash(s.name());
            }
        };
        TieredStore store = TieredStore.open(TestStores.config(dir, clock, 64L << 20), Runnable::run,
                TieredStore.DEFAULT_HOOKS.withCrash(crash));
        List<UsageEvent> sealed = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            sealed.add(new UsageEvent("acme", "s" + i, "llm.request", "key-1", "t", DAY.plusSeconds(600L * i),
                    "{\"tokens\":" + (i + 1) + "}"));
        }
        store.append(sealed);
        store.sealNow();
        store.append(List.of(new UsageEvent("acme", "a0", "llm.request", "key-1", "t", DAY.plusSeconds(30),
                "{\"tokens\":1000}")));
        Correction c = Correction.voidIds("crash-1", "acme", List.of("s0", "s5", "a0"), "ops", "test keys");
        assertThrows(SimulatedCrash.class, () -> store.correct(c));
        store.abandon();

        boolean applied = step == CrashPoint.CORRECTION_APPENDED;
        // 40 sealed events with tokens 1..40 plus 1000 in the active segment; the correction takes 1, 6 and 1000.
        long events = applied ? 38 : 41;
        BigDecimal sum = BigDecimal.valueOf(applied ? 820 + 1000 - 1007 : 820 + 1000);
        try (TieredStore reopened = TieredStore.open(TestStores.config(dir, clock, 64L << 20), Runnable::run);
                MeterService meters = new MeterService(reopened, registry(), 0)) {
            assertEquals(applied ? 1 : 0, reopened.corrections("acme").size());
            assertAnswers(reopened, meters, events, sum);
            CorrectionResult again = reopened.correct(c);
            assertEquals(applied, again.duplicate(), "a resend after the crash: " + again);
            assertEquals(3, again.events());
            assertAnswers(reopened, meters, 38, BigDecimal.valueOf(813));
        }
    }

    static MeterRegistry registry() {
        MeterRegistry reg = new MeterRegistry();
        reg.register(new MeterDefinition("tokens", "llm.request", Aggregation.SUM, "$.tokens"));
        return reg;
    }

    /** Rollups (hour windows, no groups), detail (with a group-free DAY window but detail-only) and total() agree. */
    private static void assertAnswers(TieredStore store, MeterService meters, long events, BigDecimal sum) {
        Totals t = store.total("acme", "llm.request", "key-1", "$.tokens", DAY, DAY.plus(Duration.ofDays(1)));
        assertEquals(events, t.events());
        assertEquals(0, sum.compareTo(t.sum()), "total " + t.sum());
        for (boolean detailOnly : new boolean[] {false, true}) {
            MeterResult r = meters.query(new MeterQuery("tokens", "acme", DAY, DAY.plus(Duration.ofDays(1)),
                    WindowSize.DAY, ZoneOffset.UTC, List.of(), false, List.of(), Map.of(), detailOnly));
            assertTrue(detailOnly || r.source() == MeterResult.Source.ROLLUP, "rollup path: " + r.plan());
            assertEquals(1, r.rows().size());
            assertEquals(events, r.rows().get(0).events(), r.plan());
            assertEquals(0, sum.compareTo(r.rows().get(0).value()), r.plan() + ": " + r.rows().get(0).value());
        }
    }
}
