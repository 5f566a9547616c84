package dev.tally.bench;

import dev.tally.store.dedup.DedupIndex;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * The dedup index alone, grown from empty the way a store grows it: insert rate, probe cost for
 * ids present (duplicates) and absent (new events), probe lengths and heap bytes per key, at each
 * size asked for.
 *
 * <pre>
 * usage: DedupBenchmark [sizes=1000000,10000000,50000000,200000000] [probes=2000000]
 * </pre>
 *
 * Rates and nanoseconds are per CPU second of the benchmark thread (insert rate includes the
 * shards' growth), so a busy neighbour does not inflate them. Each size is a fresh index in the same JVM; a size needs about 14 bytes of heap per key
 * ({@code TALLY_BENCH_HEAP}, default 8g, holds 200M). Not a test: run it with
 * {@code bench/run dedup}.
 */
public final class DedupBenchmark {
    private static final int BATCH = 10_000;
    private static final ThreadMXBean CPU = ManagementFactory.getThreadMXBean();
    /** Keys per segment sequence, as a store rolls segments of a few million events. */
    private static final int KEYS_PER_SEGMENT = 2_000_000;

    public static void main(String[] args) {
        String sizes = args.length > 0 ? args[0] : "1000000,10000000,50000000,200000000";
        int probes = args.length > 1 ? Integer.parseInt(args[1]) : 2_000_000;
        System.out.printf(Locale.ROOT, "dedup index benchmark: cores=%d, max heap=%d MiB, %,d timed probes per size%n",
                Runtime.getRuntime().availableProcessors(), Runtime.getRuntime().maxMemory() >> 20, probes);
        System.out.printf(Locale.ROOT, "%12s %14s %12s %12s %10s %10s %10s %12s%n", "keys", "insert keys/s",
                "hit ns", "miss ns", "hit slots", "miss slots", "miss max", "heap B/key");
        for (String s : sizes.split(",")) {
            run(Long.parseLong(s.trim()), probes);
        }
    }

    private static void run(long n, int probes) {
        DedupIndex index = new DedupIndex(1 << 16);
        SplittableRandom keys = new SplittableRandom(n);
        long[] batch = new long[BATCH];
        long t0 = CPU.getCurrentThreadCpuTime();
        for (long done = 0; done < n; done += BATCH) {
            int count = (int) Math.min(BATCH, n - done);
            for (int i = 0; i < count; i++) {
                batch[i] = keys.nextLong();
            }
            index.putAll(batch, count, 1 + done / KEYS_PER_SEGMENT);
        }
        double insertSeconds = (CPU.getCurrentThreadCpuTime() - t0) / 1e9;

        // Hits: a sample of the inserted keys, replayed from the same seed in a shuffled order
        // would cost an array of n keys; the first keys inserted are as good a sample as any.
        long[] hits = new long[probes];
        SplittableRandom replay = new SplittableRandom(n);
        long stride = Math.max(1, n / probes);
        for (int i = 0; i < probes; i++) {
            hits[i] = replay.nextLong();
            for (long skip = 1; skip < stride && (long) i * stride + skip < n; skip++) {
                replay.nextLong();
            }
        }
        long[] misses = new long[probes];
        SplittableRandom absent = new SplittableRandom(~n);
        for (int i = 0; i < probes; i++) {
            misses[i] = absent.nextLong();
        }
        long sink = 0;
        for (int warm = 0; warm < 2; warm++) {
            for (int i = 0; i < probes; i += 7) {
                sink += index.get(hits[i]) + index.get(misses[i]);
            }
        }
        // CPU time of this thread, not wall time: a busy neighbour on a shared machine stretches
        // wall time but not the work a probe does.
        long h0 = CPU.getCurrentThreadCpuTime();
        for (long k : hits) {
            sink += index.get(k);
        }
        double hitNs = (CPU.getCurrentThreadCpuTime() - h0) / (double) probes;
        long m0 = CPU.getCurrentThreadCpuTime();
        for (long k : misses) {
            sink += index.get(k);
        }
        double missNs = (CPU.getCurrentThreadCpuTime() - m0) / (double) probes;
        long hitSlots = 0;
        long missSlots = 0;
        int missMax = 0;
        for (int i = 0; i < probes; i++) {
            hitSlots += index.probeLength(hits[i]);
            int m = index.probeLength(misses[i]);
            missSlots += m;
            missMax = Math.max(missMax, m);
        }
        System.out.printf(Locale.ROOT, "%,12d %,14.0f %12.1f %12.1f %10.2f %10.2f %10d %12.1f%s%n", n,
                n / insertSeconds, hitNs, missNs, hitSlots / (double) probes, missSlots / (double) probes, missMax,
                index.memoryBytes() / (double) index.size(), sink == 42 ? " " : "");
    }
}
