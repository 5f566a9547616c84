package dev.tally.worker.cli;

import dev.tally.store.RejectReason;
import dev.tally.store.RetentionReport;
import dev.tally.store.SegmentInfo;
import dev.tally.store.UsageEvent;
import dev.tally.store.UsageStore;
import dev.tally.store.dlq.DeadLetter;
import dev.tally.store.dlq.DeadLetterQueue;
import dev.tally.store.ingest.ImportReport;
import dev.tally.store.ingest.Importer;
import dev.tally.store.journal.Journal;
import dev.tally.store.read.StoreReader;
import dev.tally.store.read.StoreStats;
import dev.tally.worker.config.Setting;
import dev.tally.worker.config.Values;
import dev.tally.worker.config.WorkerConfig;
import dev.tally.worker.daemon.StoreOpener;
import dev.tally.worker.demo.DemoSpool;
import dev.tally.worker.demo.DemoWorkload;
import dev.tally.worker.demo.Invoices;
import dev.tally.worker.demo.Progress;
import dev.tally.worker.logging.Logging;
import dev.tally.worker.query.QueryEngine;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * The main job: a month of LLM-API usage written through the journal, imported, sealed and kept
 * by retention, then an invoice-like summary per customer and two SQL queries.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = {"Run the whole pipeline on generated data: about a million LLM-API calls over 30 days "
                + "(customers, API keys, models, tokens, latency, ~1%% retries, a few bad lines) written through "
                + "the durable journal, imported, sealed to Parquet, retention applied; then an invoice-like "
                + "monthly summary per customer and two example SQL queries.",
                "Uses the folder tally-demo in the current directory unless --data-dir is given. A previous "
                        + "demo's folder is replaced; any other non-empty folder is refused."},
        footer = ExitCodes.HELP)
public final class DemoCommand implements Callable<Integer> {
    /** Marks a folder as the demo's own, so a rerun may replace it. */
    static final String MARKER = ".tally-demo";
    static final String DEFAULT_DIR = "tally-demo";
    private static final int JOURNAL_BATCH = 2_000;

    @Mixin
    CommonOptions common;

    @Option(names = "--events", paramLabel = "N", defaultValue = "1000000",
            description = "API calls to generate (default ${DEFAULT-VALUE}).")
    long events;

    @Option(names = "--days", paramLabel = "D", defaultValue = "30",
            description = "Days of history ending now (default ${DEFAULT-VALUE}; at most 34).")
    int days;

    @Option(names = "--seed", paramLabel = "S", defaultValue = "42",
            description = "Random seed; the same seed gives the same workload (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--verbose", description = "Show the store's log lines (seals, retention) while it runs.")
    boolean verbose;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        if (events < 1 || events > 100_000_000) {
            throw new ParameterException(spec.commandLine(), "--events must be 1 to 100000000, not " + events);
        }
        if (days < 1 || days > 34) {
            throw new ParameterException(spec.commandLine(), "--days must be 1 to 34 (events older than "
                    + "events.max-age = 35d are refused), not " + days);
        }
        if (!common.dataDirGiven()) {
            common.overrides.put(Setting.DATA_DIR.key(), DEFAULT_DIR);
        }
        WorkerConfig config = common.loadOnly();
        boolean reload = false;
        if (config.origin(Setting.SEGMENT_MAX_BYTES).equals("default")) {
            // The whole month fits one active segment, so it is sealed once, at the end.
            common.overrides.put(Setting.SEGMENT_MAX_BYTES.key(), "1GiB");
            reload = true;
        }
        if (config.origin(Setting.JOURNAL_MAX_BYTES).equals("default")) {
            // One journal file for the run; step 5 rotates it and deletes the imported archive.
            common.overrides.put(Setting.JOURNAL_MAX_BYTES.key(), "1GiB");
            reload = true;
        }
        if (reload) {
            config = common.loadOnly();
        }
        Logging.apply(config.logFormat(), verbose ? config.string(Setting.LOG_LEVEL) : "warn");
        PrintWriter out = spec.commandLine().getOut();
        boolean terminal = System.console() != null;
        Path dir = config.dataDir();
        long t0 = System.nanoTime();

        out.println("Tally demo: a month of LLM-API usage, from the journal to an invoice");
        out.println("  data dir: " + dir + (prepare(dir) ? " (previous demo data replaced)" : ""));
        Clock clock = Clock.systemUTC();
        Instant end = clock.instant().truncatedTo(ChronoUnit.SECONDS);
        DemoWorkload workload = new DemoWorkload(seed, end, Duration.ofDays(days));

        try (UsageStore store = StoreOpener.openWritable(config, clock, "demo");
                Journal journal = Journal.open(config.journalConfig(clock))) {
            Files.writeString(dir.resolve(MARKER), "Created by 'usage-worker demo'; a rerun replaces this folder.\n");
            DeadLetterQueue dlq = DeadLetterQueue.open(dir, false, config.count(Setting.DLQ_MAX_ATTEMPTS));

            // 1. The journal, with the import loop running beside it as in the daemon.
            Path spoolDir = dir.resolve("spool");
            Files.createDirectories(spoolDir);
            Importer importer = new Importer(store, dir, List.of(spoolDir), config.count(Setting.IMPORT_BATCH_SIZE),
                    (int) config.size(Setting.IMPORT_MAX_LINE_BYTES), dlq, clock);
            BackgroundImport imports = new BackgroundImport(importer);
            imports.start();
            step(out, 1, String.format(Locale.ROOT, "Write %,d API calls of %d customers over %d days through the "
                    + "durable journal (the import loop runs alongside)", events, DemoWorkload.customers(), days));
            long s1 = System.nanoTime();
            Progress p = new Progress(out, "journal", events, terminal);
            p.update(0);
            long written = 0;
            while (written < events) {
                List<UsageEvent> batch = workload.next((int) Math.min(JOURNAL_BATCH, events - written));
                try {
                    journal.append(batch);
                } catch (dev.tally.store.EventRejectedException e) {
                    throw new IllegalStateException("the demo generated an event the journal cannot hold: "
                            + e.getMessage(), e);
                }
                written += batch.size();
                p.update(written);
            }
            p.finish(written);
            out.printf(Locale.ROOT, "  %,d submissions acknowledged (each batch fsynced) in %.1f s; %,d of them "
                    + "retry an earlier request id, %,d are invalid%n", written, secs(s1), workload.retried(),
                    workload.invalid());

            // 2. A spool file.
            step(out, 2, "A partner delivers a spool file (NDJSON) with a few broken lines");
            Path spoolFile = spoolDir.resolve("partner-export.jsonl");
            Path partial = spoolDir.resolve(".partner-export.jsonl.part");
            int[] spool = DemoSpool.write(partial, (int) Math.max(100, Math.min(5_000, events / 200)), seed, end, days);
            Files.move(partial, spoolFile, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            out.printf(Locale.ROOT, "  %s: %,d lines, %d of them broken (cut off, NaN, a key twice)%n",
                    dir.relativize(spoolFile), spool[0], spool[1]);

            // 3. Import catches up.
            step(out, 3, "Import: journal and spool file into the store, exactly once");
            long total = written + spool[0];
            imports.finish(store, out, total, terminal);
            StoreStats counts = StoreReader.of(store).stats();
            out.printf(Locale.ROOT, "  %,d stored, %,d duplicates dropped (same tenant and id), %,d dead-lettered "
                    + "(done %.1f s after the last journal write)%n", counts.accepted(), counts.duplicates(),
                    dlq.size(), imports.catchUpSeconds());
            Map<RejectReason, Long> byReason = dlq.countsByReason();
            for (Map.Entry<RejectReason, Long> e : byReason.entrySet()) {
                DeadLetter example = dlq.list().stream().filter(d -> d.reason() == e.getKey()).findFirst()
                        .orElseThrow();
                out.printf(Locale.ROOT, "    %-17s %,5d  e.g. %s%n", e.getKey().code(), e.getValue(),
                        abbreviate(example.message(), 90));
            }

            // 4. Seal.
            step(out, 4, "Seal: roll the active segment and write it to Parquet (one file per UTC day, plus hourly "
                    + "rollups)");
            long s4 = System.nanoTime();
            store.sealNow();
            List<SegmentInfo> segs = store.segments();
            long detailParts = segs.stream().filter(s -> s.state() == SegmentInfo.State.SEALED_DETAIL).count();
            long rollupParts = segs.stream().filter(s -> s.state() == SegmentInfo.State.SEALED_ROLLUP).count();
            long sealedBytes = segs.stream().filter(s -> s.state() == SegmentInfo.State.SEALED_DETAIL
                    || s.state() == SegmentInfo.State.SEALED_ROLLUP).mapToLong(SegmentInfo::bytes).sum();
            StoreStats metrics = store instanceof StoreReader r ? r.stats() : null;
            out.printf(Locale.ROOT, "  in %.1f s: %d detail parts and %d rollup parts, %s of Parquet under "
                    + "archive/ and rollups/%s%n", secs(s4), detailParts, rollupParts, Values.bytes(sealedBytes),
                    metrics == null ? "" : String.format(Locale.ROOT, " (%d segment seal(s) in total)",
                            metrics.seals()));

            // 5. Retention and journal upkeep.
            step(out, 5, "Maintenance: retention, journal rotation and clean-up");
            RetentionReport dry = store.retention(true);
            RetentionReport done = store.maintain();
            if (done.actions().isEmpty()) {
                out.printf(Locale.ROOT, "  retention: nothing expired yet (detail is kept %s after its newest event, "
                        + "hourly rollups %s)%n", Values.format(store.config().detailRetention()),
                        Values.format(store.config().rollupRetention()));
            }
            for (RetentionReport.Action a : done.actions()) {
                out.printf(Locale.ROOT, "  retention: %s %s: %s%n", a.reason(), a.path(), a.detail());
            }
            if (dry.actions().size() != done.actions().size()) {
                out.printf(Locale.ROOT, "  (the dry run listed %d action(s))%n", dry.actions().size());
            }
            journal.rotate();
            List<Path> reaped = importer.reap(journal);
            out.printf(Locale.ROOT, "  journal: rotated, %d archive(s) whose events are all sealed deleted%n", reaped.size());

            // 6. Invoices and SQL.
            step(out, 6, "Invoices: usage per customer and month, priced with the built-in price list");
            long s6 = System.nanoTime();
            try (QueryEngine engine = new QueryEngine(store, config)) {
                Invoices.print(out, engine, end, Duration.ofDays(days));
            }
            out.printf(Locale.ROOT, "  (%.1f s)%n", secs(s6));
            step(out, 7, "Two SQL queries over every tier (sandboxed: one tenant's rows, read-only, no files)");
            long s7 = System.nanoTime();
            Invoices.printSqlExamples(out, store, end);
            out.printf(Locale.ROOT, "  (%.1f s)%n", secs(s7));
        }

        out.printf(Locale.ROOT, "%nDone in %.1f s. The data lives in %s:%n", secs(t0), dir);
        out.println("  journal/  durable producer journal     segments/  active DuckDB segment");
        out.println("  archive/  sealed Parquet, per day       rollups/   hourly rollups (Parquet)");
        out.println("  dlq/      dead letters                  manifest.json  the list of sealed parts");
        String d = common.dataDirGiven() ? dir.toString() : DEFAULT_DIR;
        out.println();
        out.println("Try next:");
        out.println("  bin/usage-worker segments --data-dir " + d);
        out.println("  bin/usage-worker query --data-dir " + d + " --meter input_tokens --tenant acme-robotics "
                + "--window day --sum-subjects --group-by model");
        out.println("  bin/usage-worker sql --data-dir " + d + " --tenant globex \"SELECT subject, count(*) AS calls "
                + "FROM usage_events GROUP BY 1 ORDER BY 2 DESC LIMIT 5\"");
        out.println("  bin/usage-worker dlq list --data-dir " + d);
        out.println("  bin/usage-worker run --data-dir " + d + "    then: curl -s localhost:8080/metrics");
        return ExitCodes.OK;
    }

    /**
     * The import loop of the demo: passes run on their own thread while the journal is written, as
     * the daemon's import loop does; {@link #finish} waits until a pass finds nothing left.
     */
    private static final class BackgroundImport {
        private final Importer importer;
        private final Thread thread;
        private final AtomicBoolean inputDone = new AtomicBoolean();
        private volatile Throwable failure;
        private long finishStart;
        private long finishEnd;

        BackgroundImport(Importer importer) {
            this.importer = importer;
            this.thread = new Thread(this::loop, "demo-import");
            this.thread.setDaemon(true);
        }

        void start() {
            thread.start();
        }

        private void loop() {
            int failuresInARow = 0;
            try {
                while (true) {
                    boolean last = inputDone.get();
                    ImportReport pass;
                    try {
                        pass = importer.runOnce();
                        failuresInARow = 0;
                    } catch (RuntimeException e) {
                        // As in the daemon's loop: a failed pass left every position at its last
                        // commit, so it is simply tried again (e.g. the journal rotated mid-pass).
                        if (++failuresInARow >= 5) {
                            throw e;
                        }
                        Thread.sleep(50L * failuresInARow);
                        continue;
                    }
                    if (!pass.didWork()) {
                        if (last) {
                            return;
                        }
                        Thread.sleep(20);
                    }
                }
            } catch (Throwable t) {
                failure = t;
            }
        }

        /** Waits for the import to finish everything, drawing progress from the store's counters. */
        void finish(UsageStore store, PrintWriter out, long total, boolean terminal) {
            finishStart = System.nanoTime();
            inputDone.set(true);
            StoreStats m = store instanceof StoreReader r ? r.stats() : null;
            Progress p = new Progress(out, "import", total, terminal);
            try {
                while (thread.isAlive()) {
                    if (m != null) {
                        p.update(Math.min(total, handled(m)));
                    }
                    thread.join(100);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while waiting for the import", e);
            }
            finishEnd = System.nanoTime();
            if (failure instanceof RuntimeException re) {
                throw re;
            }
            if (failure instanceof Error err) {
                throw err;
            }
            if (failure != null) {
                throw new IllegalStateException(failure);
            }
            p.finish(total);
        }

        double catchUpSeconds() {
            return (finishEnd - finishStart) / 1e9;
        }
    }

    private static long handled(StoreStats m) {
        long n = m.accepted() + m.duplicates();
        for (RejectReason r : RejectReason.values()) {
            n += m.rejected(r);
        }
        return n;
    }

    /**
     * Makes {@code dir} ready: creates it, or empties it when it holds a previous demo. Refuses a
     * non-empty folder that is not the demo's. Returns whether old demo data was removed.
     */
    static boolean prepare(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            Files.createDirectories(dir);
            return false;
        }
        if (!Files.isDirectory(dir)) {
            throw new CommandException(ExitCodes.USAGE, dir + " exists and is not a folder; choose another "
                    + "--data-dir");
        }
        boolean empty;
        try (Stream<Path> s = Files.list(dir)) {
            empty = s.findAny().isEmpty();
        }
        if (empty) {
            return false;
        }
        if (!Files.exists(dir.resolve(MARKER))) {
            throw new CommandException(ExitCodes.USAGE, dir + " is not empty and was not made by the demo; the demo "
                    + "only replaces its own data. Choose another --data-dir or an empty folder");
        }
        if (StoreOpener.isLocked(dir)) {
            throw new CommandException(ExitCodes.STORE, "a worker is running on " + dir + "; stop it before running "
                    + "the demo again");
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            List<Path> all = walk.sorted((a, b) -> b.getNameCount() - a.getNameCount()).toList();
            for (Path p : all) {
                if (!p.equals(dir)) {
                    Files.delete(p);
                }
            }
        }
        return true;
    }

    private static void step(PrintWriter out, int n, String title) {
        out.println();
        out.println(n + ". " + title);
        out.flush();
    }

    private static double secs(long start) {
        return (System.nanoTime() - start) / 1e9;
    }

    private static String abbreviate(String s, int max) {
        return s.length() <= max ? s : s.substring(0, max - 3) + "...";
    }

}
