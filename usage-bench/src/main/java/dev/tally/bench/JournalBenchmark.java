package dev.tally.bench;

import dev.tally.store.UsageEvent;
import dev.tally.store.journal.FsyncPolicy;
import dev.tally.store.journal.Journal;
import dev.tally.store.journal.JournalConfig;
import dev.tally.store.journal.JournalReadResult;
import dev.tally.store.journal.JournalReader;
import dev.tally.store.journal.JournalRecord;
import dev.tally.store.journal.JournalSource;
import dev.tally.store.journal.JournalStats;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.slf4j.LoggerFactory;

/**
 * Durable-ack append throughput and latency of the producer journal: for each batch size and
 * number of concurrent appender threads, appenders call {@link Journal#append} in a loop for a
 * fixed time; the table shows events/s and the p50/p99 time until an append returned (with
 * {@link FsyncPolicy#PER_BATCH}, that is until its group was fsynced). Afterwards every file is
 * read back and the record count checked against what was acknowledged.
 *
 * <p>Events are built before the timed loop (a small ring of batches per thread, re-appended), so
 * the figures are the journal's cost: encoding, checksum, the parse-back check, write and fsync.
 *
 * <pre>
 * ./mvnw -q -pl usage-bench -am package -DskipTests
 * java -cp "usage-bench/target/classes:$(cat usage-bench/target/classpath.txt)" dev.tally.bench.JournalBenchmark \
 *     [--seconds=3] [--warmup=1] [--batches=1,100,1000] [--threads=1,4,16] [--dir=PATH] [--policy=per-batch|interval:10]
 * </pre>
 *
 * <p>{@code --dir} must be on the file system to measure (default: a new folder under
 * {@code java.io.tmpdir}); {@code --policy=interval:N} fsyncs every N ms instead of per batch.
 *
 * <p>Not thread-safe: a main program; each cell's appender threads only share the journal.
 */
public final class JournalBenchmark {
    private static final int RING = 8;

    private JournalBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        double seconds = 3;
        double warmup = 1;
        int[] batches = {1, 100, 1000};
        int[] threads = {1, 4, 16};
        Path base = null;
        FsyncPolicy policy = FsyncPolicy.PER_BATCH;
        for (String a : args) {
            String[] kv = a.split("=", 2);
            String v = kv.length > 1 ? kv[1] : "";
            switch (kv[0]) {
                case "--seconds" -> seconds = Double.parseDouble(v);
                case "--warmup" -> warmup = Double.parseDouble(v);
                case "--batches" -> batches = ints(v);
                case "--threads" -> threads = ints(v);
                case "--dir" -> base = Path.of(v);
                case "--policy" -> policy = v.startsWith("interval:")
                        ? FsyncPolicy.interval(Duration.ofMillis(Long.parseLong(v.substring("interval:".length()))))
                        : FsyncPolicy.PER_BATCH;
                default -> {
                    System.err.println("unknown argument " + a);
                    System.exit(2);
                }
            }
        }
        quietLogging();
        base = base == null ? Files.createTempDirectory("tally-journal-bench") : Files.createDirectories(base);

        System.out.printf(Locale.ROOT, "journal benchmark: policy %s, %.1f s per cell, dir %s (%s)%n", policy, seconds,
                base, Files.getFileStore(base).type());
        System.out.printf(Locale.ROOT, "machine: %d cores, %d MiB max heap, %s %s, Java %s%n",
                Runtime.getRuntime().availableProcessors(), Runtime.getRuntime().maxMemory() >> 20,
                System.getProperty("os.name"), System.getProperty("os.arch"), System.getProperty("java.version"));
        if (warmup > 0) {
            runCell(base.resolve("warmup"), policy, 100, 4, warmup);
        }
        System.out.println();
        System.out.println("| batch | threads | appends | events | events/s | p50 ack ms | p99 ack ms | appends/fsync |");
        System.out.println("|------:|--------:|--------:|-------:|---------:|-----------:|-----------:|--------------:|");
        int cell = 0;
        for (int b : batches) {
            for (int t : threads) {
                Result r = runCell(base.resolve("cell-" + cell++), policy, b, t, seconds);
                System.out.printf(Locale.ROOT, "| %d | %d | %d | %d | %,.0f | %.3f | %.3f | %.1f |%n", b, t, r.appends,
                        r.events, r.events / r.seconds, r.p50Ms, r.p99Ms, r.appendsPerSync);
            }
        }
        deleteTree(base);
    }

    private record Result(long appends, long events, double seconds, double p50Ms, double p99Ms, double appendsPerSync) {
    }

    private static Result runCell(Path dir, FsyncPolicy policy, int batch, int threads, double seconds)
            throws Exception {
        List<long[]> latencies = new ArrayList<>();
        long[] counts = new long[threads];
        AtomicReference<Throwable> error = new AtomicReference<>();
        JournalStats stats;
        long wallNanos;
        try (Journal journal = Journal.open(JournalConfig.builder(dir).fsyncPolicy(policy).build())) {
            CountDownLatch ready = new CountDownLatch(threads);
            CountDownLatch go = new CountDownLatch(1);
            List<Thread> ts = new ArrayList<>();
            long durationNanos = (long) (seconds * 1e9);
            for (int t = 0; t < threads; t++) {
                int idx = t;
                List<List<UsageEvent>> ring = new ArrayList<>();
                for (int r = 0; r < RING; r++) {
                    ring.add(batch("t" + t + "r" + r, batch));
                }
                long[][] lat = {new long[1024]};
                Thread th = new Thread(() -> {
                    ready.countDown();
                    try {
                        go.await();
                        long end = System.nanoTime() + durationNanos;
                        long n = 0;
                        while (System.nanoTime() < end) {
                            long t0 = System.nanoTime();
                            journal.append(ring.get((int) (n % RING)));
                            long d = System.nanoTime() - t0;
                            if (n == lat[0].length) {
                                lat[0] = Arrays.copyOf(lat[0], lat[0].length * 2);
                            }
                            lat[0][(int) n++] = d;
                        }
                        counts[idx] = n;
                        synchronized (latencies) {
                            latencies.add(Arrays.copyOf(lat[0], (int) n));
                        }
                    } catch (Throwable e) {
                        error.compareAndSet(null, e);
                    }
                }, "appender-" + t);
                th.start();
                ts.add(th);
            }
            ready.await();
            long start = System.nanoTime();
            go.countDown();
            for (Thread th : ts) {
                th.join();
            }
            wallNanos = System.nanoTime() - start;
            stats = journal.stats();
        }
        if (error.get() != null) {
            throw new IllegalStateException("append failed", error.get());
        }
        long appends = Arrays.stream(counts).sum();
        long events = appends * batch;
        long stored = countRecords(dir);
        if (stored != events || stats.events() != events) {
            throw new IllegalStateException("read back " + stored + " records, stats say " + stats.events()
                    + ", appended " + events);
        }
        long[] all = latencies.stream().flatMapToLong(Arrays::stream).sorted().toArray();
        deleteTree(dir);
        return new Result(appends, events, wallNanos / 1e9, percentile(all, 0.50) / 1e6, percentile(all, 0.99) / 1e6,
                stats.syncs() == 0 ? 0 : (double) stats.appends() / stats.syncs());
    }

    private static long countRecords(Path dir) {
        JournalReader reader = new JournalReader(dir);
        long n = 0;
        for (JournalSource s : reader.sources()) {
            long offset = 0;
            while (true) {
                JournalReadResult r = reader.read(s.path(), offset, 10_000);
                for (JournalRecord rec : r.records()) {
                    if (!(rec instanceof JournalRecord.Event)) {
                        throw new IllegalStateException("damaged record in " + s.path() + ": " + rec);
                    }
                    n++;
                }
                offset = r.nextOffset();
                if (r.atEnd()) {
                    break;
                }
            }
        }
        return n;
    }

    private static List<UsageEvent> batch(String prefix, int n) {
        Instant t = Instant.parse("2026-11-20T10:00:00.123456Z");
        List<UsageEvent> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            out.add(new UsageEvent("acme", prefix + "-" + i, "llm.request", "key-" + (i % 97), "bench", t,
                    "{\"input_tokens\":" + (100 + i) + ",\"output_tokens\":" + (20 + i % 50) + ",\"model\":\"gpt-4o\"}"));
        }
        return out;
    }

    private static double percentile(long[] sorted, double p) {
        if (sorted.length == 0) {
            return 0;
        }
        int i = (int) Math.ceil(p * sorted.length) - 1;
        return sorted[Math.max(0, Math.min(sorted.length - 1, i))];
    }

    private static int[] ints(String csv) {
        return Arrays.stream(csv.split(",")).map(String::trim).mapToInt(Integer::parseInt).toArray();
    }

    private static void quietLogging() {
        if (LoggerFactory.getLogger("dev.tally") instanceof ch.qos.logback.classic.Logger l) {
            l.setLevel(ch.qos.logback.classic.Level.WARN);
        }
    }

    private static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
