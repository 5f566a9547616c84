package dev.tally.bench;

import dev.tally.store.UsageEvent;
import dev.tally.store.UsageStore;
import dev.tally.store.dlq.DeadLetterQueue;
import dev.tally.store.ingest.Importer;
import dev.tally.store.journal.Journal;
import dev.tally.store.journal.JournalConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Locale;

/**
 * End-to-end durable ingest: events appended to the journal with ack-after-fsync, then imported
 * into the active segment. Prints the journal rate, the import rate and the end-to-end rate.
 *
 * <pre>usage: ImportBenchmark [events=1000000] [batch=1000] [importBatch=10000]</pre>
 *
 * {@code batch} is the producers' journal append; {@code importBatch} the events per import
 * transaction (the worker's {@code import.batch-size}).
 */
public final class ImportBenchmark {
    public static void main(String[] args) throws Exception {
        int events = args.length > 0 ? Integer.parseInt(args[0]) : 1_000_000;
        int batch = args.length > 1 ? Integer.parseInt(args[1]) : 1_000;
        int importBatch = args.length > 2 ? Integer.parseInt(args[2]) : 10_000;
        Path dir = Files.createTempDirectory("tally-bench-import");
        Instant now = Instant.now();
        Workload w = new Workload(11, 20, 1_000, now, Duration.ofDays(30));
        List<List<UsageEvent>> batches = new java.util.ArrayList<>();
        for (int i = 0; i < events; i += batch) {
            batches.add(w.batch(Math.min(batch, events - i)));
        }
        long t0 = System.nanoTime();
        try (Journal journal = Journal.open(JournalConfig.builder(dir).build())) {
            for (List<UsageEvent> b : batches) {
                journal.append(b);
            }
        }
        double journalSeconds = (System.nanoTime() - t0) / 1e9;
        long t1 = System.nanoTime();
        long cpu1 = processCpuNanos();
        long stored;
        long importThreadNanos;
        long readAheadNanos;
        try (UsageStore store = UsageStore.builder(dir).build()) {
            Importer importer = new Importer(store, dir, List.of(), importBatch, 1 << 20, DeadLetterQueue.open(dir, false),
                    Clock.systemUTC());
            long thread0 = threadCpuNanos();
            stored = importer.runOnce().stored();
            importThreadNanos = threadCpuNanos() - thread0;
            // The read-ahead thread lives on for a second after the pass: read its CPU time now.
            readAheadNanos = cpuOfThreadsNamed("tally-journal-read-ahead");
        }
        double importSeconds = (System.nanoTime() - t1) / 1e9;
        double importCpuSeconds = (processCpuNanos() - cpu1) / 1e9;
        if (stored != events) {
            throw new IllegalStateException("stored " + stored + " of " + events);
        }
        System.out.printf(Locale.ROOT, "journal append (ack after fsync, batches of %,d): %,12.0f events/s%n", batch,
                events / journalSeconds);
        System.out.printf(Locale.ROOT, "import journal -> active segment (batches of %,d): %,12.0f events/s%n",
                importBatch, events / importSeconds);
        // CPU time is the figure to compare on a busy machine: wall time there is mostly waiting for a core.
        System.out.printf(Locale.ROOT, "import CPU time (all threads of the process)  : %,12.1f s = %,.0f events per CPU-second%n",
                importCpuSeconds, events / importCpuSeconds);
        System.out.printf(Locale.ROOT, "import thread CPU time per event              : %,12.2f us (read-ahead thread: %.2f us)%n",
                importThreadNanos / 1e3 / events, readAheadNanos / 1e3 / events);
        System.out.printf(Locale.ROOT, "end to end (append, then import)              : %,12.0f events/s (%,d events in %.1f s)%n",
                events / (journalSeconds + importSeconds), events, journalSeconds + importSeconds);
    }

    /** CPU time of the calling thread (ThreadMXBean): Java and the native calls it makes into DuckDB. */
    static long threadCpuNanos() {
        return java.lang.management.ManagementFactory.getThreadMXBean().getCurrentThreadCpuTime();
    }

    /** Summed CPU time of the live threads called {@code name}. */
    static long cpuOfThreadsNamed(String name) {
        java.lang.management.ThreadMXBean mx = java.lang.management.ManagementFactory.getThreadMXBean();
        long sum = 0;
        for (java.lang.management.ThreadInfo t : mx.getThreadInfo(mx.getAllThreadIds())) {
            if (t != null && t.getThreadName().equals(name)) {
                sum += Math.max(0, mx.getThreadCpuTime(t.getThreadId()));
            }
        }
        return sum;
    }

    /** CPU time of every thread of this process, DuckDB's native threads included. */
    static long processCpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory
                .getOperatingSystemMXBean()).getProcessCpuTime();
    }
}
