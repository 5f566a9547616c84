package dev.tally.store.correct;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tally.store.Totals;
import dev.tally.store.UsageEvent;
import dev.tally.store.UsageStore;
import dev.tally.store.metrics.TallyMetrics;
import dev.tally.store.sql.SandboxOptions;
import dev.tally.store.sql.SqlSandbox;
import dev.tally.store.testing.MutableClock;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.math.BigDecimal;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.YearMonth;
import java.time.ZoneId;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Closed periods, the forced-corrections report, the audit views and the counters. */
class CorrectionPeriodTest {
    private static final ZoneId BERLIN = ZoneId.of("Europe/Berlin");
    private final MutableClock clock = new MutableClock(Instant.parse("2026-11-20T12:00:00Z"));

    private UsageStore open(Path dir) {
        return UsageStore.builder(dir).clock(clock).sealExecutor(Runnable::run).build();
    }

    private static UsageEvent ev(String tenant, String id, String time, int tokens) {
        return new UsageEvent(tenant, id, "llm.request", "key-1", "t", Instant.parse(time), "{\"tokens\":" + tokens + "}");
    }

    /**
     * A correction touching a closed month is refused naming it unless forced; a forced one is in
     * the report with its effect; the period boundary follows the tenant's time zone; other
     * tenants are not affected.
     */
    @Test
    void correct_closedPeriod_refusedUnlessForcedAndReported(@TempDir Path dir) {
        clock.set(Instant.parse("2026-11-05T12:00:00Z"));
        try (UsageStore store = open(dir)) {
            assertEquals(4, store.append(List.of(ev("acme", "oct-15", "2026-10-15T10:00:00Z", 100),
                    // 2026-10-31T23:30Z is already November in Berlin: not in the closed October.
                    ev("acme", "oct-31-late", "2026-10-31T23:30:00Z", 7),
                    ev("acme", "oct-20", "2026-10-20T10:00:00Z", 40),
                    ev("rival", "oct-15", "2026-10-15T10:00:00Z", 9))).accepted());
            store.sealNow();
            ClosedPeriod p = store.closePeriod("acme", YearMonth.of(2026, 10), BERLIN, "finance");
            assertEquals(Instant.parse("2026-09-30T22:00:00Z"), p.start());
            assertEquals(List.of(p.label()), store.closedPeriods("acme").stream().map(ClosedPeriod::label).toList());

            ClosedPeriodException e = assertThrows(ClosedPeriodException.class, () -> store.correct(
                    Correction.voidIds("c1", "acme", List.of("oct-15"), "ops", "test key")));
            assertEquals(List.of("acme 2026-10 (Europe/Berlin)"), e.periods());
            assertTrue(e.getMessage().contains("acme 2026-10 (Europe/Berlin)"), e.getMessage());
            assertEquals(0, store.corrections("acme").size(), "nothing stored");

            assertEquals(1, store.correct(Correction.voidIds("c2", "acme", List.of("oct-31-late"), "ops", "dup"))
                    .events(), "November in Berlin is open");
            assertEquals(1, store.correct(Correction.voidIds("c3", "rival", List.of("oct-15"), "ops", "other tenant"))
                    .events(), "rival's October is open");

            CorrectionResult forced = store.correct(Correction.voidIds("c4", "acme", List.of("oct-15"), "ops",
                    "test key, invoice reissued").forced());
            assertEquals(List.of("acme 2026-10 (Europe/Berlin)"), forced.forcedPeriods());
            CorrectionResult amend = store.correct(Correction.amend("c5", ev("acme", "oct-20", "2026-10-20T11:00:00Z",
                    25), "ops", "wrong count").forced());
            assertEquals(1, amend.events());

            List<ForcedCorrection> report = store.forcedCorrections("acme");
            assertEquals(List.of("c4", "c5"), report.stream().map(f -> f.correction().correctionId()).toList());
            assertEquals(-1, report.get(0).eventsDelta());
            assertEquals(0, new BigDecimal("-100").compareTo(report.get(0).valueDeltas().get("tokens")));
            assertEquals(0, report.get(1).eventsDelta());
            assertEquals(0, new BigDecimal("-15").compareTo(report.get(1).valueDeltas().get("tokens")));
            assertEquals("ops", report.get(1).correction().actor());
            assertEquals("wrong count", report.get(1).correction().reason());

            Totals t = store.total("acme", "llm.request", "key-1", "$.tokens", Instant.parse("2026-10-01T00:00:00Z"),
                    Instant.parse("2026-12-01T00:00:00Z"));
            assertEquals(1, t.events());
            assertEquals(0, BigDecimal.valueOf(25).compareTo(t.sum()));
        }
    }

    /** The SQL audit view shows the events as stored and, in either view, the corrections themselves. */
    @Test
    void sandbox_uncorrected_showsStoredEventsAndCorrections(@TempDir Path dir, @TempDir Path work) {
        try (UsageStore store = open(dir)) {
            store.append(List.of(ev("acme", "a", "2026-11-18T10:00:00Z", 1), ev("acme", "b", "2026-11-18T11:00:00Z", 2)));
            store.sealNow();
            store.append(List.of(ev("acme", "c", "2026-11-19T10:00:00Z", 3)));
            store.correct(Correction.voidIds("v1", "acme", List.of("a", "c"), "ops", "test"));
            SandboxOptions o = SandboxOptions.defaults().withWorkDir(work);
            try (SqlSandbox corrected = SqlSandbox.open(store, "acme", o);
                    SqlSandbox audit = SqlSandbox.open(store, "acme", o, true)) {
                assertEquals("[[b]]", corrected.query("SELECT id FROM usage_events ORDER BY id").rows().toString());
                assertEquals("[[a], [b], [c]]", audit.query("SELECT id FROM usage_events ORDER BY id").rows().toString());
                for (SqlSandbox s : List.of(corrected, audit)) {
                    assertEquals("[[v1, a, true], [v1, c, true]]", s.query("SELECT correction_id, id, voided FROM "
                            + "usage_corrections ORDER BY id").rows().toString());
                }
            }
        }
    }

    /** Counters count corrections by kind and outcome, corrected events and rejected ids. */
    @Test
    void metrics_corrections_counted(@TempDir Path dir) {
        try (UsageStore store = open(dir)) {
            store.append(List.of(ev("acme", "a", "2026-11-18T10:00:00Z", 1)));
            store.correct(Correction.voidIds("v1", "acme", List.of("a", "zz"), "ops", "test"));
            store.correct(Correction.voidIds("v1", "acme", List.of("a"), "ops", "resend"));
            SimpleMeterRegistry reg = new SimpleMeterRegistry();
            TallyMetrics.builder(store).build().bindTo(reg);
            assertEquals(1.0, reg.get("tally.corrections").tags("kind", "void", "outcome", "applied").functionCounter()
                    .count());
            assertEquals(1.0, reg.get("tally.corrections").tags("kind", "void", "outcome", "duplicate").functionCounter()
                    .count());
            assertEquals(1.0, reg.get("tally.corrections.events").tags("kind", "void").functionCounter().count());
            assertEquals(1.0, reg.get("tally.corrections.rejected").tags("reason", "unknown_id").functionCounter().count());
        }
    }
}
