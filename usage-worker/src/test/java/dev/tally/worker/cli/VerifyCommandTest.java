package dev.tally.worker.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tally.store.EventCodec;
import dev.tally.store.UsageEvent;
import dev.tally.store.UsageStore;
import dev.tally.store.dlq.DeadLetterQueue;
import dev.tally.store.ingest.Importer;
import dev.tally.store.journal.Journal;
import dev.tally.store.journal.JournalConfig;
import dev.tally.store.testing.TestEvents;
import dev.tally.worker.UsageWorker;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** usage-worker verify on a real data directory: output formats and exit codes. */
class VerifyCommandTest {
    @TempDir
    Path root;
    Path data;
    Path spool;
    Path spoolFile;

    /** A journal (one archive, one live file) and a spool file, all imported, with the system clock. */
    @BeforeEach
    void fixture() throws Exception {
        data = root.resolve("data");
        spool = Files.createDirectories(root.resolve("spool"));
        Instant now = Instant.now().truncatedTo(ChronoUnit.SECONDS);
        try (UsageStore store = UsageStore.builder(data).build();
                Journal journal = Journal.open(JournalConfig.builder(data).build())) {
            journal.append(TestEvents.batch("acme", "a", 120, 3, now, Duration.ofHours(1), 1));
            journal.rotate();
            journal.append(TestEvents.batch("acme", "b", 80, 3, now, Duration.ofHours(1), 2));
            StringBuilder sb = new StringBuilder();
            for (UsageEvent e : TestEvents.batch("globex", "s", 30, 2, now, Duration.ofHours(1), 3)) {
                sb.append(EventCodec.toJson(e)).append('\n');
            }
            spoolFile = spool.resolve("orders.jsonl");
            Files.writeString(spoolFile, sb, StandardCharsets.UTF_8);
            new Importer(store, data, List.of(spool), 500, 1 << 20, DeadLetterQueue.open(data, false),
                    Clock.systemUTC()).runOnce();
        }
    }

    private String[] args(String... extra) {
        String[] base = {"verify", "--data-dir", data.toString(), "--set", "import.spool-dirs=" + spool,
            "--temp-dir", root.resolve("tmp").toString()};
        String[] all = new String[base.length + extra.length];
        System.arraycopy(base, 0, all, 0, base.length);
        System.arraycopy(extra, 0, all, base.length, extra.length);
        return all;
    }

    private String output(String... args) {
        StringWriter out = new StringWriter();
        CommandLine cli = new CommandLine(new VerifyCommand()).setOut(new PrintWriter(out, true));
        cli.execute(java.util.Arrays.copyOfRange(args, 1, args.length));
        return out.toString();
    }

    /** A quiet, fully imported directory: every line unchanged, exit 0 even with --fail-on-change. */
    @Test
    void verify_quietFullyImportedDir_exitsZero() throws Exception {
        assertEquals(ExitCodes.OK, UsageWorker.run(args("--fail-on-change")));

        String table = output(args("--fail-on-change"));
        assertTrue(table.startsWith("verify: no drift"), table);
        JsonNode json = new ObjectMapper().readTree(output(args("--format", "json")));
        assertEquals(230, json.path("summary").path("unchanged").asLong());
        assertEquals(0, json.path("summary").path("changed").asLong());
        assertEquals(false, json.path("drift").asBoolean());
        assertEquals(3, json.path("files").size());
    }

    /** An imported spool line edited in place: exit 1 with --fail-on-change, 0 without, and the JSON names the line. */
    @Test
    void verify_editedImportedLine_failOnChangeExitsOne() throws Exception {
        String text = Files.readString(spoolFile);
        int at = text.indexOf("\"input_tokens\":") + "\"input_tokens\":".length();
        try (FileChannel ch = FileChannel.open(spoolFile, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap(new byte[] {(byte) (text.charAt(at) == '9' ? '1' : text.charAt(at) + 1)}), at);
        }

        assertEquals(ExitCodes.CHANGES_FOUND, UsageWorker.run(args("--fail-on-change")));
        assertEquals(ExitCodes.OK, UsageWorker.run(args()));

        JsonNode json = new ObjectMapper().readTree(output(args("--format", "json")));
        assertEquals(1, json.path("summary").path("changed").asLong());
        JsonNode finding = json.path("findings").get(0);
        assertEquals("changed", finding.path("class").asText());
        assertEquals("s-0", finding.path("id").asText());
        assertEquals("data", finding.path("differences").get(0).path("field").asText());
    }
}
