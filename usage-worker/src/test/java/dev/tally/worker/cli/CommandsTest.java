package dev.tally.worker.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
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
                {"query", "--help"}, {"sql", "--help"}, {"segments", "--help"}, {"retention", "--help"}, {"compact", "--help"},
                {"dlq", "--help"}, {"dlq", "list", "--help"}, {"dlq", "replay", "--help"}, {"verify", "--help"}, {"repair", "--help"},
                {"repair", "manifest", "--help"}, {"repair", "wal", "--help"}, {"repair", "active", "--help"},
                {"repair", "check", "--help"}}) {
            Run r = cli(c);
            assertEquals(0, r.code(), String.join(" ", c));
            assertTrue(r.out().contains("Usage: usage-worker"), r.out());
            assertTrue(r.out().contains("Exit codes:"), String.join(" ", c));
        }
        Run root = cli("--help");
        for (String name : List.of("run", "demo", "import", "query", "sql", "segments", "retention", "compact", "dlq",
                "verify", "repair")) {
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

    /** compact merges the closed days' parts and every query answers as before; a second run has nothing to do. */
    @Test
    void compact_fixture_mergesPartsAndKeepsAnswers() {
        String from = now.minus(Duration.ofDays(5)).toString();
        String to = now.plusSeconds(1).toString();
        String[] query = {"query", "--meter", "input_tokens", "--tenant", "acme", "--from", from, "--to", to,
                "--window", "day", "--format", "csv"};
        Run before = cli(withDir(query));
        assertEquals(0, before.code(), before.err());
        Run compact = cli(withDir("compact"));
        assertEquals(0, compact.code(), compact.err());
        assertTrue(compact.out().contains("compacted "), compact.out());
        assertTrue(cli(withDir("segments")).out().contains("compact-"));
        assertEquals(before.out(), cli(withDir(query)).out());
        Run again = cli(withDir("compact"));
        assertEquals(0, again.code(), again.err());
        assertTrue(again.out().contains("nothing to compact"), again.out());
    }

    /** query prints exact values per window and group as a table, CSV or JSON, from every tier. */
    @Test
    void query_fixture_printsExactValuesInEachFormat() throws Exception {
        String from = now.minus(Duration.ofDays(5)).toString();
        String to = now.plusSeconds(1).toString();
        Run table = cli(withDir("query", "--meter", "input_tokens", "--tenant", "acme", "--from", from, "--to", to,
                "--sum-subjects"));
        assertEquals(0, table.code(), table.err());
        assertTrue(table.out().contains(" 350 "), table.out());
        assertTrue(table.out().contains("(1 row; SUM of input_tokens for tenant acme"), table.out());
        Run csv = cli(withDir("query", "--meter", "requests", "--tenant", "acme", "--from", from, "--to", to,
                "--window", "day", "--group-by", "model", "--sum-subjects", "--format", "csv"));
        assertEquals(0, csv.code(), csv.err());
        assertTrue(csv.out().startsWith("window_start,window_end,model,requests,events\n"), csv.out());
        String[] lines = csv.out().strip().split("\n");
        long events = 0;
        for (int i = 1; i < lines.length; i++) {
            String[] cols = lines[i].split(",");
            assertEquals("atlas-mini", cols[2]);
            events += Long.parseLong(cols[4]);
        }
        assertEquals(40, events, csv.out());
        Run json = cli(withDir("query", "--meter", "input_tokens", "--tenant", "acme", "--from", from, "--to", to,
                "--subject", "key-1", "--format", "json"));
        JsonNode rows = JSON.readTree(json.out()).get("rows");
        assertEquals(1, rows.size());
        assertEquals("key-1", rows.get(0).get("subject").asText());
        assertEquals(0, new java.math.BigDecimal("150").compareTo(rows.get(0).get("value").decimalValue()));
        assertEquals(20, rows.get(0).get("events").asInt());
        Run list = cli(withDir("query", "--list"));
        assertTrue(list.out().contains("latency_p95"), list.out());
    }

    /** query refuses an unknown meter, dimension or time zone with exit code 2 and a message naming it. */
    @Test
    void query_badParameters_exitWith2NamingTheProblem() {
        Run meter = cli(withDir("query", "--meter", "nope", "--tenant", "acme"));
        assertEquals(2, meter.code());
        assertTrue(meter.err().contains("no such meter"), meter.err());
        Run dim = cli(withDir("query", "--meter", "requests", "--tenant", "acme", "--group-by", "color"));
        assertEquals(2, dim.code());
        assertTrue(dim.err().contains("color"), dim.err());
        Run tz = cli(withDir("query", "--meter", "requests", "--tenant", "acme", "--tz", "Mars/Base"));
        assertEquals(2, tz.code());
        assertTrue(tz.err().contains("tz = 'Mars/Base'"), tz.err());
        Run noTenant = cli(withDir("query", "--meter", "requests"));
        assertEquals(2, noTenant.code());
        assertTrue(noTenant.err().contains("tenant"), noTenant.err());
    }

    /** sql runs one SELECT over the tenant's rows in every tier and refuses anything else. */
    @Test
    void sql_fixture_selectsTenantRowsAndRefusesWrites() {
        Run r = cli(withDir("sql", "--tenant", "acme", "--format", "csv",
                "SELECT count(*) AS n, sum(CAST(data->>'$.input_tokens' AS DECIMAL(38,0))) AS tokens FROM usage_events"));
        assertEquals(0, r.code(), r.err());
        assertEquals("n,tokens\n40,350", r.out().strip());
        Run other = cli(withDir("sql", "--tenant", "globex", "SELECT count(*) AS n FROM usage_events"));
        assertTrue(other.out().contains("\n0\n"), other.out()); // the journal is not imported yet
        Run write = cli(withDir("sql", "--tenant", "acme", "DELETE FROM usage_events"));
        assertEquals(2, write.code());
        assertTrue(write.err().contains("REJECTED"), write.err());
    }

    /** repair check finds every sealed part intact on the fixture (exit 0). */
    @Test
    void repairCheck_intactStore_exitsZero() {
        Run r = cli(withDir("repair", "check"));
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("every sealed part is intact"), r.out());
    }

    /**
     * A truncated active segment: sql answers from the sealed part, import is refused naming the
     * repair, repair active reports then applies, and the next import stores the journaled events.
     */
    @Test
    void repairActive_truncatedActiveSegment_degradedThenRepaired() throws Exception {
        Path active;
        try (java.util.stream.Stream<Path> s = Files.list(data.resolve("segments"))) {
            active = s.filter(p -> p.toString().endsWith(".duckdb")).sorted().reduce((a, b) -> b).orElseThrow();
        }
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(active,
                java.nio.file.StandardOpenOption.WRITE)) {
            ch.truncate(ch.size() / 3);
        }
        Run sql = cli(withDir("sql", "--tenant", "acme", "SELECT count(*) AS n FROM usage_events"));
        assertEquals(0, sql.code(), sql.err());
        assertTrue(sql.out().contains("\n30\n"), sql.out()); // the sealed events; the 10 in the active segment are out
        Run refused = cli(withDir("import"));
        assertEquals(4, refused.code(), refused.out());
        assertTrue(refused.err().contains("repair active"), refused.err());
        Run dry = cli(withDir("repair", "active"));
        assertEquals(0, dry.code(), dry.err());
        assertTrue(dry.out().contains("would move"), dry.out());
        assertTrue(Files.exists(active));
        Run applied = cli(withDir("repair", "active", "--apply"));
        assertEquals(0, applied.code(), applied.err());
        assertTrue(applied.out().contains("LOST:"), applied.out());
        assertFalse(Files.exists(active));
        Run imported = cli(withDir("import"));
        assertEquals(0, imported.code(), imported.err());
        Run globex = cli(withDir("sql", "--tenant", "globex", "SELECT count(*) AS n FROM usage_events"));
        assertTrue(globex.out().contains("\n5\n"), globex.out()); // the journal's valid events
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
        assertTrue(r.out().contains("all customers: $"), r.out());
        assertTrue(r.out().contains("Top five API keys by output tokens"), r.out());
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
