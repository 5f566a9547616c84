package dev.tally.worker.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tally.store.UsageEvent;
import dev.tally.store.UsageStore;
import dev.tally.worker.testing.Events;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.YearMonth;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code usage-worker correct ...} on a data directory without a running worker. */
class CorrectCommandTest {
    @TempDir
    Path tmp;

    /** Void, close a period, refuse then force, list and report, with the exit codes a script relies on. */
    @Test
    void correct_voidClosePeriodForceListReport() {
        Path data = tmp.resolve("data");
        Instant old = Instant.now().truncatedTo(ChronoUnit.SECONDS).minus(Duration.ofDays(3));
        try (UsageStore store = UsageStore.builder(data).build()) {
            List<UsageEvent> events = new ArrayList<>();
            for (int i = 0; i < 5; i++) {
                events.add(Events.event("acme", "old-" + i, "key-1", old.plusSeconds(i), 10));
            }
            assertEquals(5, store.append(events).accepted());
            store.sealNow();
        }
        String dir = data.toString();
        CommandsTest.Run r = CommandsTest.cli("correct", "void", "--data-dir", dir, "--tenant", "acme", "--id", "old-0",
                "--id", "nope", "--reason", "test key", "--correction-id", "c1", "--actor", "ops");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("correction c1: 1 event(s)") && r.out().contains("unknown_id"), r.out());

        String month = YearMonth.from(old.atZone(ZoneOffset.UTC)).toString();
        r = CommandsTest.cli("correct", "close-period", "--data-dir", dir, "--tenant", "acme", "--month", month);
        assertEquals(0, r.code(), r.err());

        r = CommandsTest.cli("correct", "void", "--data-dir", dir, "--tenant", "acme", "--id", "old-1", "--reason", "x",
                "--correction-id", "c2");
        assertEquals(ExitCodes.CHANGES_FOUND, r.code(), r.out());
        assertTrue(r.err().contains("acme " + month + " (UTC)"), r.err());

        r = CommandsTest.cli("correct", "void", "--data-dir", dir, "--tenant", "acme", "--id", "old-1", "--reason", "x",
                "--correction-id", "c2", "--force");
        assertEquals(0, r.code(), r.err());

        r = CommandsTest.cli("correct", "list", "--data-dir", dir, "--tenant", "acme");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("c1") && r.out().contains("c2"), r.out());

        r = CommandsTest.cli("correct", "report", "--data-dir", dir, "--tenant", "acme");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("1 forced correction(s)") && r.out().contains("c2"), r.out());
    }
}
