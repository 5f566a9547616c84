package dev.tally.worker.e2e;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tally.worker.testing.Events;
import dev.tally.worker.testing.Http;
import dev.tally.worker.testing.PromText;
import dev.tally.worker.testing.WorkerProcess;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The daemon as a user runs it: a real child process, signals, restarts, exit codes. */
class RunProcessTest {
    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    private WorkerProcess startRun(Path data, String log) throws Exception {
        return WorkerProcess.start(tmp.resolve(log), "run", "--data-dir", data.toString(), "--set", "http.port=0",
                "--set", "import.interval=100ms");
    }

    private static double metric(Http http, String name) throws Exception {
        return PromText.parse(http.get("/metrics").body()).value(name);
    }

    /** A read-only store opens beside a worker writing in another process (on a consistent copy) and sees its events; the worker keeps running and its data directory gets no copy. */
    @Test
    void readOnlyStore_besideRunningWorker_readsASnapshot() throws Exception {
        Path data = tmp.resolve("data");
        Instant now = Instant.now().truncatedTo(ChronoUnit.SECONDS);
        try (WorkerProcess w = startRun(data, "run.log")) {
            Http http = new Http("127.0.0.1", w.awaitPort(60));
            assertEquals(202, http.post("/v1/events", "application/json", Events.array("acme", "ro", 12, now, 5))
                    .statusCode());
            await().atMost(Duration.ofSeconds(30)).until(() -> metric(http, "tally_events_accepted_total") == 12);
            try (dev.tally.store.UsageStore ro = dev.tally.store.UsageStore.builder(data).readOnly(true).build()) {
                long events = 0;
                for (int k = 0; k < 3; k++) {
                    events += ro.total("acme", "llm.request", "key-" + k, "$.input_tokens",
                            now.minus(Duration.ofHours(1)), now.plusSeconds(1)).events();
                }
                assertEquals(12, events);
            }
            assertEquals(200, http.get("/readyz").statusCode());
            assertEquals(202, http.post("/v1/events", "application/json", Events.array("acme", "ro2", 2, now, 5))
                    .statusCode());
        }
    }

    /** Events posted to a running worker survive SIGTERM (exit 0) and a restart, and posting them again stores nothing twice. */
    @Test
    void run_postStopRestart_keepsEveryEventExactlyOnce() throws Exception {
        Path data = tmp.resolve("data");
        Instant now = Instant.now().truncatedTo(ChronoUnit.SECONDS);
        String batch = Events.array("acme", "e2e", 20, now, 100);
        try (WorkerProcess w = startRun(data, "run1.log")) {
            Http http = new Http("127.0.0.1", w.awaitPort(60));
            HttpResponse<String> r = http.post("/v1/events", "application/json", batch);
            assertEquals(202, r.statusCode(), r.body());
            assertEquals(20, JSON.readTree(r.body()).get("accepted").asInt());
            await().atMost(Duration.ofSeconds(30)).until(() -> metric(http, "tally_events_accepted_total") == 20);
            assertEquals(200, http.get("/readyz").statusCode());

            // The meter over HTTP, and the query command, which goes through the running worker.
            String range = "&from=" + now.minus(Duration.ofHours(1)) + "&to=" + now.plusSeconds(1);
            HttpResponse<String> q = http.get("/v1/meters/input_tokens/query?tenant=acme&sum-subjects=true" + range);
            assertEquals(200, q.statusCode(), q.body());
            assertEquals("2000", JSON.readTree(q.body()).get("rows").get(0).get("value").asText());
            WorkerProcess.Result cliQuery = WorkerProcess.runToEnd(tmp.resolve("query.log"), 60, "query", "--data-dir",
                    data.toString(), "--meter", "input_tokens", "--tenant", "acme", "--sum-subjects", "--format", "csv",
                    "--from", now.minus(Duration.ofHours(1)).toString(), "--to", now.plusSeconds(1).toString());
            assertEquals(0, cliQuery.exitCode(), cliQuery.err());
            assertTrue(cliQuery.out().contains(",2000,20"), cliQuery.out());

            // A read-only command works next to the daemon.
            WorkerProcess.Result seg = WorkerProcess.runToEnd(tmp.resolve("segments.log"), 60, "segments",
                    "--data-dir", data.toString());
            assertEquals(0, seg.exitCode(), seg.err());
            assertTrue(seg.out().contains("20 events in detail"), seg.out());

            w.terminate();
            assertEquals(0, w.waitFor(60), w.stderrText());
            assertTrue(w.drain().contains("usage-worker stopped cleanly"), w.drain() + " / " + w.stderrText());
            assertTrue(w.stderrText().contains("stop requested (SIGTERM)"), w.stderrText());
        }
        try (WorkerProcess w = startRun(data, "run2.log")) {
            Http http = new Http("127.0.0.1", w.awaitPort(60));
            assertEquals(202, http.post("/v1/events", "application/json", batch).statusCode());
            await().atMost(Duration.ofSeconds(30)).until(() -> metric(http, "tally_events_duplicate_total") == 20);
            assertEquals(0, metric(http, "tally_events_accepted_total"));
            assertEquals(20, PromText.parse(http.get("/metrics").body()).value("tally_segment_rows", "tier",
                    "active"));
            w.terminate();
            assertEquals(0, w.waitFor(60), w.stderrText());
        }
        WorkerProcess.Result seg = WorkerProcess.runToEnd(tmp.resolve("segments2.log"), 60, "segments", "--data-dir",
                data.toString());
        assertTrue(seg.out().contains("20 events in detail"), seg.out());
        // And with no worker running, the query command opens the store itself: still 20 events, nothing doubled.
        WorkerProcess.Result offline = WorkerProcess.runToEnd(tmp.resolve("query2.log"), 60, "query", "--data-dir",
                data.toString(), "--meter", "input_tokens", "--tenant", "acme", "--sum-subjects", "--format", "csv",
                "--from", now.minus(Duration.ofHours(1)).toString(), "--to", now.plusSeconds(1).toString());
        assertEquals(0, offline.exitCode(), offline.err());
        assertTrue(offline.out().contains(",2000,20"), offline.out());
    }

    /** A second worker on the same data directory exits at once with code 4 and says what to do; log.format=json writes JSON lines. */
    @Test
    void run_secondWorkerOnSameDataDir_failsFastWithExitCode4() throws Exception {
        Path data = tmp.resolve("data");
        try (WorkerProcess first = WorkerProcess.start(tmp.resolve("first.log"), "run", "--data-dir", data.toString(),
                "--set", "http.port=0", "--set", "log.format=json")) {
            first.awaitPort(60);
            await().atMost(Duration.ofSeconds(10)).until(() -> first.stderrText().contains("worker running on"));
            for (String line : first.stderrText().strip().split("\n")) {
                JsonNode log = JSON.readTree(line);
                assertTrue(log.hasNonNull("level") && log.hasNonNull("message"), line);
            }
            WorkerProcess.Result second = WorkerProcess.runToEnd(tmp.resolve("second.log"), 60, "run", "--data-dir",
                    data.toString(), "--set", "http.port=0");
            assertEquals(4, second.exitCode(), second.err());
            assertTrue(second.err().contains("another usage-worker is already using the data directory " + data),
                    second.err());
            assertTrue(second.err().contains("Stop that worker first"), second.err());
            WorkerProcess.Result imp = WorkerProcess.runToEnd(tmp.resolve("import.log"), 60, "import", "--data-dir",
                    data.toString());
            assertEquals(4, imp.exitCode(), imp.err());
            assertTrue(imp.err().contains("so 'import' cannot open it for writing"), imp.err());
            assertTrue(first.alive());
            first.terminate();
            assertEquals(0, first.waitFor(60));
        }
    }

    /** An invalid setting stops start-up with exit code 3 and a message naming key, value, origin and reason. */
    @Test
    void run_badConfigValue_exitsWith3NamingTheKey() throws Exception {
        WorkerProcess.Result r = WorkerProcess.runToEnd(tmp.resolve("bad.log"), 60, "run", "--data-dir",
                tmp.resolve("data").toString(), "--set", "segment.max-bytes=lots");
        assertEquals(3, r.exitCode(), r.err());
        assertTrue(r.err().contains("segment.max-bytes = 'lots' is not a size"), r.err());
        assertTrue(r.err().contains("(from the command line)"), r.err());
    }
}
