package dev.tally.bench.suite;

import dev.tally.bench.Workload;
import dev.tally.store.SegmentInfo;
import dev.tally.store.UsageEvent;
import dev.tally.store.UsageStore;
import dev.tally.store.dlq.DeadLetterQueue;
import dev.tally.store.ingest.ImportReport;
import dev.tally.store.ingest.Importer;
import dev.tally.store.journal.Journal;
import dev.tally.store.journal.JournalConfig;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Workload 2 for Tally: {@code producers} threads append their share of {@code events} to the
 * journal in batches of 1,000 (an append returns after its group is fsynced), while one importer
 * thread moves the journal into the store's active segment, as the worker does, and reaps
 * imported journal files. End to end is from the first append until the last event is in the
 * store; the ack latency is the time one {@code append} took.
 */
final class DurableBench {
    private DurableBench() {
    }

    static void run(Results out, Path dir, long events, int producers, Instant end) throws Exception {
        String k = "durable.store." + events + "." + producers + ".";
        long share = events / producers;
        List<long[]> latencies = new ArrayList<>();
        AtomicReference<Throwable> error = new AtomicReference<>();
        AtomicBoolean producing = new AtomicBoolean(true);
        long[] importedAt = new long[1];
        long[] journalBytes = new long[1];
        try (Journal journal = Journal.open(JournalConfig.builder(dir).build());
                UsageStore store = UsageStore.builder(dir).build()) {
            // The worker's import batch, not the producers': the import is measured as the worker runs it.
            int importBatch = Integer.getInteger("importBatch",
                    Integer.parseInt(dev.tally.worker.config.Setting.IMPORT_BATCH_SIZE.defaultValue()));
            Importer importer = new Importer(store, dir, List.of(), importBatch, 1 << 20, DeadLetterQueue.open(dir, false),
                    Clock.systemUTC());
            CountDownLatch ready = new CountDownLatch(producers);
            CountDownLatch go = new CountDownLatch(1);
            List<Thread> threads = new ArrayList<>();
            for (int t = 0; t < producers; t++) {
                int idx = t;
                long mine = t == producers - 1 ? events - share * (producers - 1) : share;
                Thread th = new Thread(() -> {
                    try {
                        Workload w = Suite.producerWorkload(end, idx, mine);
                        long[] lat = new long[(int) (mine / Suite.BATCH + 1)];
                        int n = 0;
                        ready.countDown();
                        go.await();
                        for (long done = 0; done < mine; ) {
                            int b = (int) Math.min(Suite.BATCH, mine - done);
                            List<UsageEvent> batch = w.batch(b);
                            long t0 = System.nanoTime();
                            journal.append(batch);
                            lat[n++] = System.nanoTime() - t0;
                            done += b;
                        }
                        synchronized (latencies) {
                            latencies.add(Arrays.copyOf(lat, n));
                        }
                    } catch (Throwable e) {
                        error.compareAndSet(null, e);
                        ready.countDown();
                    }
                }, "producer-" + t);
                th.start();
                threads.add(th);
            }
            long[] retries = new long[1];
            Thread importThread = new Thread(() -> {
                // As the worker's import loop: a failed pass (e.g. the live journal rotated while it was
                // being read) leaves the committed positions where they were, and the next pass goes on.
                try {
                    go.await();
                    int failedInARow = 0;
                    while (error.get() == null) {
                        boolean done = !producing.get();
                        ImportReport p;
                        try {
                            p = importer.runOnce();
                            failedInARow = 0;
                        } catch (RuntimeException e) {
                            retries[0]++;
                            if (++failedInARow > 100) {
                                throw e;
                            }
                            Thread.sleep(10);
                            continue;
                        }
                        if (!p.errors().isEmpty()) {
                            throw new IllegalStateException("import errors: " + p.errors());
                        }
                        if (p.didWork()) {
                            importedAt[0] = System.nanoTime();
                        } else if (done) {
                            break; // the producers had finished before this pass began, and it found nothing
                        }
                        journalBytes[0] = Math.max(journalBytes[0], Sys.bytes(dir.resolve("journal")));
                        journal.reap(importer.fullyImported());
                        if (!p.didWork()) {
                            Thread.sleep(done ? 1 : 20);
                        }
                    }
                } catch (Throwable e) {
                    error.compareAndSet(null, e);
                }
            }, "importer");
            importThread.start();
            ready.await();
            long start = System.nanoTime();
            go.countDown();
            for (Thread th : threads) {
                th.join();
            }
            long produced = System.nanoTime();
            producing.set(false);
            importThread.join();
            if (error.get() != null) {
                throw new IllegalStateException("durable ingest failed", error.get());
            }
            long stored = store.segments().stream()
                    .filter(x -> x.state() == SegmentInfo.State.ACTIVE || x.state() == SegmentInfo.State.PENDING
                            || x.state() == SegmentInfo.State.SEALED_DETAIL)
                    .mapToLong(SegmentInfo::rows).sum();
            if (stored != events) {
                throw new IllegalStateException("the store holds " + stored + " of " + events + " events");
            }
            long[] all = latencies.stream().flatMapToLong(Arrays::stream).sorted().toArray();
            double seconds = (importedAt[0] - start) / 1e9;
            out.put(k + "events_per_s", events / seconds);
            out.put(k + "seconds", seconds);
            out.put(k + "journal_events_per_s", events / ((produced - start) / 1e9));
            out.put(k + "import_lag_seconds", (importedAt[0] - produced) / 1e9);
            out.put(k + "p50_ack_ms", Sys.percentile(all, 0.5) / 1e6);
            out.put(k + "p99_ack_ms", Sys.percentile(all, 0.99) / 1e6);
            out.put(k + "load_avg", Sys.load());
            out.put(k + "journal_peak_bytes", journalBytes[0]);
            out.put(k + "import_retries", retries[0]);
        }
        out.put(k + "peak_rss", Sys.peakRss("self"));
    }
}
