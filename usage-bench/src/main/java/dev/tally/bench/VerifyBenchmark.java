package dev.tally.bench;

import dev.tally.store.UsageEvent;
import dev.tally.store.UsageStore;
import dev.tally.store.dlq.DeadLetterQueue;
import dev.tally.store.ingest.Importer;
import dev.tally.store.journal.Journal;
import dev.tally.store.journal.JournalConfig;
import dev.tally.store.verify.ReportFormat;
import dev.tally.store.verify.Verifier;
import dev.tally.store.verify.VerifyClass;
import dev.tally.store.verify.VerifyReport;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Locale;

/**
 * Verify on a data directory of N events: the events are appended to the journal (ack after
 * fsync) and imported (the store rolls and seals 64 MiB segments into Parquet as it goes), then
 * {@link Verifier} runs several times on the quiet directory. Prints the setup, every verify run,
 * and the first run's summary; fails unless every event is unchanged.
 *
 * <pre>usage: VerifyBenchmark [events=1000000] [runs=3] [dir=new temp dir]</pre>
 */
public final class VerifyBenchmark {
    public static void main(String[] args) throws Exception {
        int events = args.length > 0 ? Integer.parseInt(args[0]) : 1_000_000;
        int runs = args.length > 1 ? Integer.parseInt(args[1]) : 3;
        Path dir = args.length > 2 ? Files.createDirectories(Path.of(args[2]))
                : Files.createTempDirectory("tally-bench-verify");
        int batch = 1_000;
        Workload w = new Workload(11, 20, 1_000, Instant.now(), Duration.ofDays(30));
        long t0 = System.nanoTime();
        try (Journal journal = Journal.open(JournalConfig.builder(dir).build())) {
            for (int i = 0; i < events; i += batch) {
                List<UsageEvent> b = w.batch(Math.min(batch, events - i));
                journal.append(b);
            }
        }
        long stored;
        try (UsageStore store = UsageStore.builder(dir).build()) {
            Importer importer = new Importer(store, dir, List.of(), batch, 1 << 20, DeadLetterQueue.open(dir, false),
                    Clock.systemUTC());
            stored = importer.runOnce().stored();
        }
        if (stored != events) {
            throw new IllegalStateException("stored " + stored + " of " + events);
        }
        System.out.printf(Locale.ROOT, "setup: %,d events journaled and imported in %.1f s into %s%n", events,
                (System.nanoTime() - t0) / 1e9, dir);
        Path tmp = Files.createTempDirectory("tally-bench-verify-snapshots");
        VerifyReport first = null;
        for (int run = 1; run <= runs; run++) {
            long t = System.nanoTime();
            VerifyReport r = Verifier.builder(dir).tempDir(tmp).build().run();
            double s = (System.nanoTime() - t) / 1e9;
            if (r.count(VerifyClass.UNCHANGED) != events || r.drift()) {
                throw new IllegalStateException("verify run " + run + " did not find every event unchanged:\n"
                        + ReportFormat.table(r));
            }
            System.out.printf(Locale.ROOT, "verify run %d: %,d events unchanged in %.2f s (%,.0f events/s); "
                    + "snapshot: %d segment(s) copied, %d detail parts%n", run, events, s, events / s,
                    r.snapshot().segments().size(), r.snapshot().detailParts());
            if (first == null) {
                first = r;
            }
        }
        System.out.println();
        String table = ReportFormat.table(first);
        System.out.print(table.substring(0, Math.min(table.length(), 3000)));
    }
}
