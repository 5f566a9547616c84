package dev.tally.worker.crash;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tally.store.UsageEvent;
import dev.tally.store.internal.TestStores;
import dev.tally.store.dlq.DeadLetter;
import dev.tally.store.dlq.DeadLetterQueue;
import dev.tally.store.testing.DiskRows;
import dev.tally.store.testing.RunResult;
import dev.tally.store.journal.Journal;
import dev.tally.store.journal.JournalConfig;
import dev.tally.worker.testing.Events;
import dev.tally.worker.testing.Http;
import dev.tally.worker.testing.PromText;
import dev.tally.worker.testing.WorkerProcess;
import java.io.IOException;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.awaitility.core.ConditionTimeoutException;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The set check: {@code usage-worker run} in a child JVM is killed ({@code kill -9}) at seeded
 * random moments while events arrive through the journal (appended from this JVM) and over HTTP;
 * it is restarted each time. Small segments and journals and short loop intervals make rollovers,
 * seals, retention passes, journal rotations and dead-letter writes happen between the kills.
 * Retention deletes for real: some journaled events are stamped just inside the detail retention
 * ({@link #RETENTION}), so their parts expire seconds later and are deleted while the kills go on.
 * After a clean final run: every acknowledged current id is stored exactly once, an expiring id at
 * most once, and nothing is stored that was never sent. A failure names the seed and keeps the data
 * directory.
 */
class WorkerKillLoopTest {
    static final ObjectMapper JSON = new ObjectMapper();
    /** The event id inside a dead letter's kept bytes. */
    private static final Pattern DEAD_ID = Pattern.compile("\"id\":\"(j-[^\"]+)\"");
    /**
     * Detail retention of the loop. Over a day, so expiring events land in another UTC day's parts
     * than current ones and their parts expire as a whole.
     */
    static final Duration RETENTION = Duration.ofDays(2);
    /** How long after it is stamped an expiring event passes the retention cutoff. */
    static final Duration EXPIRES_AFTER = Duration.ofSeconds(20);
    /**
     * How long a child worker may take to recover and listen. Idle it takes a few seconds (JVM start,
     * DuckDB's native library, recovery, dedup index); on a 2-core machine shared with other builds
     * (load 30 to 40) it took over a minute, which says nothing about exactly-once.
     */
    static final int STARTUP_SECONDS = 180;
    /**
     * How long the clean final run may take to import what the kills left behind. Generous (idle it
     * takes seconds), because on a shared machine the backlog is imported at a fraction of a core.
     */
    static final Duration CATCH_UP = Duration.ofMinutes(10);

    /** The short loop of the default test run. */
    @Test
    void run_killedRepeatedly_everyAckedEventStoredExactlyOnce() throws Exception {
        killLoop(Integer.getInteger("tally.kills", 20), Long.getLong("tally.seed", 20261122L), "short");
    }

    /**
     * The mid-size loop that CI runs after the default run: -Pmid. Three times the short loop,
     * whose 20 kills took 74 s on an idle 2-core machine, so the three mid loops stay well inside
     * CI's budget (docs/reliability.md).
     */
    @Test
    @Tag("mid")
    void run_killedSixtyTimes_everyAckedEventStoredExactlyOnce() throws Exception {
        killLoop(Integer.getInteger("tally.mid-kills", 60), Long.getLong("tally.seed", 100L), "mid");
    }

    /** The long loop: run with -Plong. */
    @Test
    @Tag("long")
    void run_killedManyTimes_everyAckedEventStoredExactlyOnce() throws Exception {
        killLoop(Integer.getInteger("tally.long-kills", 500), Long.getLong("tally.seed", 5005L), "long");
    }

    private static String[] runArgs(Path data) {
        return new String[] {"run", "--data-dir", data.toString(), "--set", "http.port=0",
            "--set", "import.interval=50ms", "--set", "maintenance.interval=200ms",
            "--set", "segment.max-bytes=4MiB", "--set", "segment.max-age=2s",
            "--set", "journal.max-bytes=64KiB", "--set", "journal.max-age=1s",
            "--set", "import.batch-size=50", "--set", "retention.orphan-grace=1s",
            "--set", "retention.detail=" + RETENTION.toDays() + "d", "--set", "events.max-age=" + RETENTION.toDays() + "d",
            "--set", "shutdown.timeout=60s"};
    }

    private void killLoop(int kills, long seed, String run) throws Exception {
        Path dir = Files.createTempDirectory("tally-kill-loop-");
        Path data = dir.resolve("data");
        Path log = dir.resolve("worker.log");
        Files.createDirectories(data);
        String where = "seed " + seed + " (data kept in " + dir + ", rerun with -Dtally.seed=" + seed + ")";
        Set<String> sent = ConcurrentHashMap.newKeySet();
        Set<String> acked = ConcurrentHashMap.newKeySet();
        AtomicBoolean stop = new AtomicBoolean();
        AtomicReference<Http> api = new AtomicReference<>();
        AtomicReference<Throwable> feederFailure = new AtomicReference<>();
        AtomicInteger httpAcks = new AtomicInteger();
        AtomicInteger journalAcks = new AtomicInteger();
        Set<String> oldJournaled = ConcurrentHashMap.newKeySet();
        AtomicInteger expiring = new AtomicInteger();
        int survived = 0;
        // How long each child took from its launch to its API listening: the loop's own pace.
        List<Long> startMillis = new ArrayList<>();
        boolean ok = false;
        long started = System.nanoTime();
        JournalConfig jc = JournalConfig.builder(data).maxJournalBytes(64 * 1024).build();
        try (Journal journal = Journal.open(jc)) {
            Thread journalFeeder = new Thread(() -> feedJournal(journal, seed, stop, sent, acked, journalAcks,
                    oldJournaled, expiring, feederFailure), "journal-feeder");
            Thread httpFeeder = new Thread(() -> feedHttp(api, seed, stop, sent, acked, httpAcks, feederFailure),
                    "http-feeder");
            journalFeeder.start();
            httpFeeder.start();
            Random random = new Random(seed);
            try {
                for (int k = 0; k < kills; k++) {
                    try (WorkerProcess w = WorkerProcess.start(log, runArgs(data))) {
                        if (random.nextInt(5) == 0) {
                            // during start-up: recovery, lock, journal open, first import pass
                            Thread.sleep(random.nextInt(1500));
                        } else {
                            long t0 = System.nanoTime();
                            api.set(new Http("127.0.0.1", w.awaitPort(STARTUP_SECONDS)));
                            startMillis.add(Duration.ofNanos(System.nanoTime() - t0).toMillis());
                            Thread.sleep(50 + random.nextInt(1200));
                        }
                        assertTrue(w.alive(), where + ": the worker exited on its own before kill " + k + "; "
                                + w.stderrText());
                        api.set(null);
                        // close() kills it with destroyForcibly (SIGKILL) and waits
                    }
                    survived++;
                    if (feederFailure.get() != null) {
                        throw new AssertionError(where + ": a feeder failed", feederFailure.get());
                    }
                }
            } finally {
                stop.set(true);
                journalFeeder.join(30_000);
                httpFeeder.join(30_000);
            }
        }
        // Seals and retention deletions must happen between the kills, not only in the final run:
        // the short segment age and the expiring events force them; the log so far is the loop's.
        long loopSeals;
        long loopExpiries;
        try (var lines = Files.lines(log)) {
            List<String> all = lines.toList();
            loopSeals = all.stream().filter(l -> l.contains("sealed segment")).count();
            loopExpiries = all.stream().filter(l -> l.contains("DETAIL_EXPIRED") || l.contains("not archived")).count();
        }
        System.out.printf("kill loop %s: %d seals and %d retention deletions logged during the kills%n", run, loopSeals,
                loopExpiries);
        if (run.equals("long")) {
            assertTrue(loopSeals > 0 && loopExpiries > 0, where + ": during the kills " + loopSeals + " seals and "
                    + loopExpiries + " retention deletions were logged; both must happen inside the loop");
        }
        try {
            if (feederFailure.get() != null) {
                throw new AssertionError(where + ": a feeder failed", feederFailure.get());
            }
            // A clean final run imports everything, then stops on SIGTERM.
            double deadLetters;
            try (WorkerProcess w = WorkerProcess.start(log, runArgs(data))) {
                long t0 = System.nanoTime();
                Http http = new Http("127.0.0.1", w.awaitPort(STARTUP_SECONDS));
                startMillis.add(Duration.ofNanos(System.nanoTime() - t0).toMillis());
                PromText m = awaitCaughtUp(http, w, where);
                deadLetters = m.samples().stream().filter(s -> s.name().equals("tally_dead_letters"))
                        .mapToDouble(PromText.Sample::value).sum();
                w.terminate();
                assertEquals(0, w.waitFor(120), where + ": final stop; " + w.stderrText());
            }
            Map<String, Integer> counts;
            TestStores.open(data, Clock.systemUTC()).close(); // recovery, as on the next start
            counts = DiskRows.scan(data).counts(); // from the files, not through the store's view
            List<String> problems = new ArrayList<>();
            for (String id : acked) {
                if (!counts.containsKey(id)) {
                    problems.add("acknowledged " + id + " not stored");
                }
            }
            counts.forEach((id, n) -> {
                if (n != 1) {
                    problems.add(id + " stored " + n + " times");
                }
                if (!sent.contains(id)) {
                    problems.add(id + " stored but never sent");
                }
            });
            assertTrue(problems.isEmpty(), where + ": " + problems.size() + " problem(s), first: "
                    + problems.subList(0, Math.min(20, problems.size())));
            // Dead letters, read from the queue file: every too-old journal event exactly once (the
            // queue is idempotent across kills), an expiring one at most once and then not stored,
            // nothing else.
            Map<String, Integer> dead = new HashMap<>();
            List<DeadLetter> letters = DeadLetterQueue.open(data, true).list();
            for (DeadLetter d : letters) {
                Matcher id = DEAD_ID.matcher(new String(d.originalBytes(), StandardCharsets.UTF_8));
                assertTrue(id.find(), where + ": dead letter without an event id: " + d);
                dead.merge("acme/" + id.group(1), 1, Integer::sum);
            }
            dead.forEach((id, n) -> {
                if (n != 1) {
                    problems.add(id + " dead-lettered " + n + " times");
                }
                if (!id.startsWith("acme/j-old-") && !id.startsWith("acme/j-exp-")) {
                    problems.add(id + " dead-lettered but valid");
                }
                if (counts.containsKey(id)) {
                    problems.add(id + " both dead-lettered and stored");
                }
            });
            for (String id : oldJournaled) {
                if (!dead.containsKey(id)) {
                    problems.add("too-old " + id + " not dead-lettered");
                }
            }
            assertTrue(problems.isEmpty(), where + ": " + problems.size() + " dead-letter problem(s), first: "
                    + problems.subList(0, Math.min(20, problems.size())));
            assertTrue(!oldJournaled.isEmpty(), where + ": no too-old event was journaled");
            assertEquals(letters.size(), (long) deadLetters, where + ": tally_dead_letters vs the queue file");
            assertTrue(httpAcks.get() > 0 && journalAcks.get() > 0, where + ": a feeder never got an ack");
            assertEquals(kills, survived, where + ": kills that landed on a live worker");
            long expiredDeletions;
            try (var lines = Files.lines(log)) {
                expiredDeletions = lines.filter(l -> l.contains("DETAIL_EXPIRED") || l.contains("not archived"))
                        .count();
            }
            assertTrue(expiring.get() > 0 && expiredDeletions > 0,
                    where + ": retention never deleted expired detail (" + expiring.get() + " expiring events sent)");
            long expiringStored = counts.keySet().stream().filter(id -> id.startsWith("acme/j-exp-")).count();
            System.out.printf("kill loop: seed %d, %d kills survived, %d acked (%d over HTTP, %d via journal),"
                    + " %d stored, %d sent, %.0f dead letters, %d expiring sent (%d still stored),"
                    + " %d retention deletions logged, %d s%n", seed, survived, acked.size(), httpAcks.get(),
                    journalAcks.get(), counts.size(), sent.size(), deadLetters, expiring.get(), expiringStored,
                    expiredDeletions, Duration.ofNanos(System.nanoTime() - started).toSeconds());
            List<Long> sorted = startMillis.stream().sorted().toList();
            System.out.printf("kill loop: %d starts awaited, start to listening: median %d ms, max %d ms%n",
                    sorted.size(), sorted.get(sorted.size() / 2), sorted.get(sorted.size() - 1));
            long lost = acked.stream().filter(id -> !counts.containsKey(id)).count();
            long doubled = counts.values().stream().filter(n -> n > 1).count();
            RunResult.write("WorkerKillLoopTest-" + run, RunResult.of("WorkerKillLoopTest", run, seed, survived,
                    acked.size(), counts.size(), lost, doubled, letters.size(),
                    Duration.ofNanos(System.nanoTime() - started).toSeconds()));
            ok = true;
        } finally {
            if (ok) {
                deleteTree(dir);
            } else {
                System.err.println("kill loop failed: " + where);
            }
        }
    }

    /**
     * Waits until the final run has caught up: an import pass completed in this run, nothing left
     * to import, the worker ready, and no new event accepted for 8 scrapes 200 ms apart (longer
     * than the metrics' 1 s snapshot TTL, so the dead-letter gauge read afterwards was computed
     * after the last import pass, not cached from before it). Bounded by {@link #CATCH_UP}; a
     * timeout says what was expected and what the last scrape showed.
     */
    private static PromText awaitCaughtUp(Http http, WorkerProcess w, String where) {
        AtomicReference<PromText> last = new AtomicReference<>();
        AtomicInteger quiet = new AtomicInteger();
        AtomicReference<Double> lastAccepted = new AtomicReference<>(-1.0);
        try {
            await("final catch-up").atMost(CATCH_UP).pollDelay(Duration.ZERO).pollInterval(Duration.ofMillis(200))
                    .until(() -> {
                        PromText m = PromText.parse(http.get("/metrics").body());
                        last.set(m);
                        double accepted = m.value("tally_events_accepted_total");
                        boolean idle = m.value("tally_import_last_success_timestamp_seconds") > 0
                                && m.value("tally_import_lag_bytes") == 0 && m.value("tally_ready") == 1
                                && accepted == lastAccepted.getAndSet(accepted);
                        if (idle) {
                            return quiet.incrementAndGet() >= 8;
                        }
                        quiet.set(0);
                        return false;
                    });
        } catch (ConditionTimeoutException e) {
            PromText m = last.get();
            String seen = m == null ? "no /metrics answer at all"
                    : "last import pass at " + m.value("tally_import_last_success_timestamp_seconds")
                    + " (0 = none in this run), tally_import_lag_bytes " + m.value("tally_import_lag_bytes")
                    + ", tally_ready " + m.value("tally_ready") + ", tally_events_accepted_total "
                    + m.value("tally_events_accepted_total") + ", " + quiet.get() + " quiet scrape(s) in a row";
            throw new AssertionError(where + ": the final run did not catch up within " + CATCH_UP.toSeconds()
                    + " s; expected an import pass in this run, tally_import_lag_bytes 0, tally_ready 1 and no new "
                    + "accepted event for 8 scrapes; seen: " + seen + "; worker stderr: " + w.stderrText(), e);
        }
        return last.get();
    }

    /**
     * Appends batches of current events plus, now and then, one that expires seconds after it is
     * stamped (retention may delete it, or it is refused as too old when the import comes late) and
     * one too old to import (a dead letter).
     */
    private static void feedJournal(Journal journal, long seed, AtomicBoolean stop, Set<String> sent,
            Set<String> acked, AtomicInteger acks, Set<String> oldJournaled, AtomicInteger expiring,
            AtomicReference<Throwable> failure) {
        Random random = new Random(seed * 31 + 1);
        int n = 0;
        try {
            while (!stop.get()) {
                Instant now = Instant.now().truncatedTo(ChronoUnit.MICROS);
                List<UsageEvent> batch = new ArrayList<>();
                int size = 1 + random.nextInt(20);
                for (int i = 0; i < size; i++) {
                    String id = "j-" + n++;
                    batch.add(Events.event("acme", id, "key-" + (n % 7), now.minusMillis(random.nextInt(5000)), 10));
                }
                if (random.nextInt(3) == 0) {
                    String id = "j-exp-" + n++;
                    batch.add(Events.event("acme", id, "key-1", now.minus(RETENTION).plus(EXPIRES_AFTER), 10));
                    expiring.incrementAndGet();
                }
                if (random.nextInt(4) == 0) {
                    String id = "j-old-" + n++;
                    batch.add(Events.event("acme", id, "key-0", now.minus(Duration.ofDays(60)), 10));
                }
                batch.forEach(e -> sent.add(e.tenant() + "/" + e.id()));
                journal.append(batch);
                batch.stream().filter(e -> e.id().startsWith("j-old-")).forEach(e -> oldJournaled.add("acme/" + e.id()));
                for (UsageEvent e : batch) {
                    if (!e.id().startsWith("j-old-") && !e.id().startsWith("j-exp-")) {
                        acked.add(e.tenant() + "/" + e.id());
                        acks.incrementAndGet();
                    }
                }
                Thread.sleep(random.nextInt(15));
            }
        } catch (Throwable t) {
            failure.compareAndSet(null, t);
        }
    }

    /** Posts batches over HTTP, each with one invalid event; records the ids of every 202. */
    private static void feedHttp(AtomicReference<Http> api, long seed, AtomicBoolean stop, Set<String> sent,
            Set<String> acked, AtomicInteger acks, AtomicReference<Throwable> failure) {
        Random random = new Random(seed * 31 + 2);
        int n = 0;
        try {
            while (!stop.get()) {
                Http http = api.get();
                if (http == null) {
                    Thread.sleep(10);
                    continue;
                }
                Instant now = Instant.now().truncatedTo(ChronoUnit.MICROS);
                List<String> ids = new ArrayList<>();
                List<String> parts = new ArrayList<>();
                int size = 1 + random.nextInt(20);
                int bad = random.nextInt(size + 1);
                for (int i = 0; i <= size; i++) {
                    if (i == bad) {
                        parts.add("{\"tenant\":\"acme\",\"id\":\"h-bad-" + n++ + "\",\"type\":\"llm.request\"}");
                        ids.add(null);
                        continue;
                    }
                    String id = "h-" + n++;
                    ids.add(id);
                    sent.add("acme/" + id);
                    parts.add(Events.json("acme", id, "key-" + (n % 5), now.minusMillis(random.nextInt(5000)), 20));
                }
                HttpResponse<String> r;
                try {
                    r = http.post("/v1/events", "application/json", "[" + String.join(",", parts) + "]");
                } catch (IOException e) {
                    continue; // killed mid-request: not acknowledged
                }
                if (r.statusCode() != 202) {
                    if (r.statusCode() == 503) {
                        continue; // not acknowledged
                    }
                    throw new AssertionError("unexpected " + r.statusCode() + ": " + r.body());
                }
                JsonNode body = JSON.readTree(r.body());
                Set<Integer> rejected = new HashSet<>();
                body.get("rejected").forEach(x -> rejected.add(x.get("index").asInt()));
                if (!rejected.equals(Set.of(bad)) || body.get("accepted").asInt() != size) {
                    throw new AssertionError("expected only index " + bad + " rejected: " + r.body());
                }
                for (String id : ids) {
                    if (id != null) {
                        acked.add("acme/" + id);
                        acks.incrementAndGet();
                    }
                }
            }
        } catch (Throwable t) {
            failure.compareAndSet(null, t);
        }
    }

    private static void deleteTree(Path dir) throws IOException {
        Files.walkFileTree(dir, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                Files.delete(file);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path d, IOException e) throws IOException {
                Files.delete(d);
                return FileVisitResult.CONTINUE;
            }
        });
    }
}
