package dev.tally.worker.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tally.store.UsageEvent;
import dev.tally.store.UsageStore;
import dev.tally.store.journal.Journal;
import dev.tally.store.journal.JournalConfig;
import dev.tally.worker.UsageWorker;
import dev.tally.worker.testing.Events;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Each command on a fixture data directory, in this JVM, with its output and exit code. */
class CommandsTest {
    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;
    Path data;
    final Instant now = Instant.now().truncatedTo(ChronoUnit.SECONDS);

    /** What a command printed and returned. */
    record Run(int code, String out, String err) {
    }

    static Run cli(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        List<String> all = new ArrayList<>(Arrays.asList(args));
        if (!all.contains("--help") && !all.contains("-h") && all.size() > 0 && !all.get(0).startsWith("-")) {
            all.add("--set");
            all.add("log.level=warn");
        }
        int code = UsageWorker.run(new PrintWriter(out, true), new PrintWriter(err, true), all.toArray(new String[0]));
        return new Run(code, out.toString(), err.toString());
    }

    /**
     * The fixture: 30 events three days ago, sealed; 10 events from an hour ago in the active
     * segment; 5 events and 2 invalid ones waiting in the journal; a spool file with one good
     * line and one broken line.
     */
    @BeforeEach
    void fixture() throws Exception {
        data = tmp.resolve("data");
        try (UsageStore store = UsageStore.builder(data).build()) {
            List<UsageEvent> old = new ArrayList<>();
            for (int i = 0; i < 30; i++) {
                old.add(Events.event("acme", "old-" + i, "key-" + (i % 3), now.minus(Duration.ofDays(3)).plusSeconds(i),
                        10));
            }
            assertEquals(30, store.append(old).accepted());
            store.sealNow();
            List<UsageEvent> recent = new ArrayList<>();
            for (int i = 0; i < 10; i++) {
                recent.add(Events.event("acme", "new-" + i, "key-1", now.minus(Duration.ofHours(1)).plusSeconds(i), 5));
            }
            assertEquals(10, store.append(recent).accepted());
        }
        try (Journal j = Journal.open(JournalConfig.builder(data).build())) {
            List<UsageEvent> pending = new ArrayList<>();
            for (int i = 0; i < 5; i++) {
                pending.add(Events.event("globex", "j-" + i, "key-9", now.minusSeconds(60 - i), 7));
            }
            pending.add(new UsageEvent("globex", "j-bad-1", "llm.request", null, "test", now.minusSeconds(5),
                    "{\"input_tokens\":1}"));
            pending.add(new UsageEvent("globex", "j-bad-2", "llm.request", "key-9", "test",
                    now.plus(Duration.ofDays(3)), "{\"input_tokens\":1}"));
            j.append(pending);
        }
        Path spool = tmp.resolve("spool");
        Files.createDirectories(spool);
        Files.writeString(spool.resolve("partner.jsonl"), Events.json("initech", "s-1", "key-4", now.minusSeconds(30), 3)
                + "\n{\"tenant\":\"initech\",\"id\":\"s-2\",\"type\":\n");
    }

    private String[] withDir(String... args) {
        List<String> all = new ArrayList<>(Arrays.asList(args));
        all.add("--data-dir");
        all.add(data.toString());
        return all.toArray(new String[0]);
    }

    /** Every command answers --help with its description and the exit code table, and exits 0. */
    @Test
    void help_everyCommand_showsUsageAndExitCodes() {
        for (String[] c : new String[][] {{"--help"}, {"run", "--help"}, {"demo", "--help"}, {"import", "--help"},
                {"segments", "--help"}, {"retention", "--help"}, {"dlq", "--help"}, {"dlq", "list", "--help"},
                {"dlq", "replay", "--help"}}) {
            Run r = cli(c);
            assertEquals(0, r.code(), String.join(" ", c));
            assertTrue(r.out().contains("Usage: usage-worker"), r.out());
            assertTrue(r.out().contains("Exit codes:"), String.join(" ", c));
        }
        Run root = cli("--help");
        for (String name : List.of("run", "demo", "import", "segments", "retention", "dlq")) {
            assertTrue(root.out().contains("  " + name + " "), name);
        }
    }

    /** A wrong command line exits 2 with a message; no command prints the usage and exits 2. */
    @Test
    void badCommandLine_exitsWith2() {
        assertEquals(2, cli("frobnicate").code());
        assertEquals(2, cli().code());
        Run r = cli("segments", "--no-such-flag");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("--no-such-flag"), r.err());
    }

    /** segments lists the sealed parts and the active segment with rows and totals. */
    @Test
    void segments_fixture_listsEveryTier() {
        Run r = cli(withDir("segments"));
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("SEALED_DETAIL"), r.out());
        assertTrue(r.out().contains("SEALED_ROLLUP"), r.out());
        assertTrue(r.out().contains("ACTIVE"), r.out());
        assertTrue(r.out().contains("40 events in detail"), r.out());
    }

    /** import moves the journal and a spool folder into the store and dead-letters what it cannot store; dlq list shows each with its reason. */
    @Test
    void import_thenDlqList_storesAndDeadLettersWithReasons() throws Exception {
        Run imp = cli(withDir("import", "--set", "import.spool-dirs=" + tmp.resolve("spool")));
        assertEquals(0, imp.code(), imp.err());
        assertTrue(imp.out().contains("6 stored"), imp.out());
        assertTrue(imp.out().contains("3 dead-lettered"), imp.out());
        Run again = cli(withDir("import", "--set", "import.spool-dirs=" + tmp.resolve("spool")));
        assertTrue(again.out().contains("imported 0 record(s)"), again.out());

        Run list = cli(withDir("dlq", "list"));
        assertEquals(0, list.code(), list.err());
        assertTrue(list.out().contains("dead-letter queue: 3 entries"), list.out());
        assertTrue(list.out().contains("missing_field"), list.out());
        assertTrue(list.out().contains("time_in_future"), list.out());
        assertTrue(list.out().contains("invalid_json"), list.out());
        assertTrue(list.out().contains("spool:"), list.out());

        Run json = cli(withDir("dlq", "list", "--format", "json"));
        String[] lines = json.out().strip().split("\n");
        assertEquals(3, lines.length);
        for (String line : lines) {
            JsonNode n = JSON.readTree(line);
            assertTrue(n.hasNonNull("reason") && n.hasNonNull("source") && n.has("offset"), line);
        }

        Run replay = cli(withDir("dlq", "replay"));
        assertEquals(0, replay.code(), replay.err());
        assertTrue(replay.out().contains("replayed 3 dead letter(s)"), replay.out());
        assertTrue(replay.out().contains("3 still refused"), replay.out());
    }

    /** retention --dry-run lists expired detail with its reason and changes nothing; retention then deletes it. */
    @Test
    void retention_dryRunThenRun_listsAndDeletesExpiredDetail() {
        String[] shortRetention = {"--set", "retention.detail=2d", "--set", "events.max-age=2d"};
        Run dry = cli(withDir(concat(new String[] {"retention", "--dry-run"}, shortRetention)));
        assertEquals(0, dry.code(), dry.err());
        assertTrue(dry.out().contains("would delete DETAIL_EXPIRED"), dry.out());
        assertTrue(cli(withDir("segments")).out().contains("40 events in detail"));
        Run run = cli(withDir(concat(new String[] {"retention"}, shortRetention)));
        assertEquals(0, run.code(), run.err());
        assertTrue(run.out().contains("deleted DETAIL_EXPIRED"), run.out());
        assertTrue(cli(withDir("segments")).out().contains("10 events in detail"));
    }

    /** demo with a small workload runs end to end, refuses a foreign folder, and replaces its own data on a rerun. */
    @Test
    void demo_smallWorkload_runsEndToEndAndReplacesItsOwnData() throws Exception {
        Path dir = tmp.resolve("demo");
        Run r = cli("demo", "--events", "5000", "--data-dir", dir.toString());
        assertEquals(0, r.code(), r.err() + r.out());
        assertTrue(r.out().contains("5,000 submissions acknowledged"), r.out());
        assertTrue(r.out().contains("dead-lettered"), r.out());
        assertTrue(r.out().contains("Done in"), r.out());
        assertTrue(r.out().contains("Try next:"), r.out());
        Run again = cli("demo", "--events", "2000", "--data-dir", dir.toString());
        assertEquals(0, again.code(), again.err());
        assertTrue(again.out().contains("previous demo data replaced"), again.out());
        Run foreign = cli("demo", "--events", "5000", "--data-dir", data.toString());
        assertEquals(2, foreign.code());
        assertTrue(foreign.err().contains("not made by the demo"), foreign.err());
    }

    private static String[] concat(String[] a, String[] b) {
        String[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
