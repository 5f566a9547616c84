package dev.tally.bench.suite;

import dev.tally.bench.Workload;
import dev.tally.store.EventCodec;
import dev.tally.store.UsageEvent;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * HTTP ingest end to end, as users will run it: a real worker ({@code usage-worker run}, default
 * settings, in its own JVM) and a load generator here with {@code connections} concurrent
 * {@link HttpClient} connections, each posting JSON arrays of {@code batch} events one after the
 * other. The worker answers 202 only once the events are durable in its journal, so the ack
 * latency is the time one POST took; end to end is from the first POST until the worker's
 * import loop has stored the last event ({@code tally_events_accepted_total} in
 * {@code /metrics}). Request bodies are built before the clock starts.
 *
 * <p>The worker records a JFR profile to {@code DIR/worker.jfr}.
 *
 * <pre>
 * Suite http RESULTS DIR EVENTS CONNECTIONS BATCH END
 * HttpBench EVENTS [CONNECTIONS=1,4,16] [BATCHES=100,1000]   (a matrix, printed as a table; bench/run http)
 * </pre>
 */
public final class HttpBench {
    private static final Pattern PORT = Pattern.compile("listening on http://[^:\\s]+:(\\d+)");
    private static final Pattern ACCEPTED = Pattern.compile("(?m)^tally_events_accepted_total (\\S+)$");

    private HttpBench() {
    }

    /** One run's figures. */
    record Run(double eventsPerS, double ackEventsPerS, double p50AckMs, double p99AckMs, double importLagS,
            double load) {
    }

    /** The matrix, standalone: {@code HttpBench EVENTS [CONNECTIONS] [BATCHES]}. */
    public static void main(String[] args) throws Exception {
        long events = Long.parseLong(args[0].replace("M", "000000").replace("k", "000"));
        int[] conns = Arrays.stream((args.length > 1 ? args[1] : "1,4,16").split(",")).mapToInt(Integer::parseInt).toArray();
        int[] batches = Arrays.stream((args.length > 2 ? args[2] : "100,1000").split(",")).mapToInt(Integer::parseInt).toArray();
        Instant end = Instant.now();
        Path base = Files.createTempDirectory("tally-bench-http");
        System.out.println("| events | connections | batch | end to end (events/s) | acks (events/s) | p50 ack (ms) "
                + "| p99 ack (ms) | import lag after last ack (s) | load avg |");
        System.out.println("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        for (int b : batches) {
            for (int c : conns) {
                Path dir = base.resolve("http-" + c + "-" + b);
                Run r = run(dir, events, c, b, end);
                System.out.printf(Locale.ROOT, "| %,d | %d | %,d | %,.0f | %,.0f | %.1f | %.1f | %.1f | %.2f |%n", events, c,
                        b, r.eventsPerS, r.ackEventsPerS, r.p50AckMs, r.p99AckMs, r.importLagS, r.load);
                deleteTree(dir);
            }
        }
        System.exit(0);
    }

    /** The suite step: one connection count and batch size, figures into {@code out}. */
    static void run(Results out, Path dir, long events, int connections, int batch, Instant end) throws Exception {
        String k = "http.store." + events + "." + connections + "." + batch + ".";
        Run r = run(dir, events, connections, batch, end);
        out.put(k + "events_per_s", r.eventsPerS);
        out.put(k + "ack_events_per_s", r.ackEventsPerS);
        out.put(k + "p50_ack_ms", r.p50AckMs);
        out.put(k + "p99_ack_ms", r.p99AckMs);
        out.put(k + "import_lag_seconds", r.importLagS);
        out.put(k + "load_avg", r.load);
    }

    static Run run(Path dir, long events, int connections, int batch, Instant end) throws Exception {
        Files.createDirectories(dir);
        // Bodies first, so the load generator spends its time sending, not building JSON.
        List<List<byte[]>> bodies = new ArrayList<>();
        long share = events / connections;
        for (int c = 0; c < connections; c++) {
            long mine = c == connections - 1 ? events - share * (connections - 1) : share;
            Workload w = Suite.producerWorkload(end, c, mine);
            List<byte[]> mineBodies = new ArrayList<>();
            for (long done = 0; done < mine; done += batch) {
                mineBodies.add(body(w.batch((int) Math.min(batch, mine - done))));
            }
            bodies.add(mineBodies);
        }
        Process worker = startWorker(dir);
        try {
            int port = awaitPort(worker, dir);
            URI events_ = URI.create("http://127.0.0.1:" + port + "/v1/events");
            URI metrics = URI.create("http://127.0.0.1:" + port + "/metrics");
            HttpClient probe = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
            double before = accepted(probe, metrics);
            AtomicReference<Throwable> error = new AtomicReference<>();
            List<long[]> latencies = new ArrayList<>();
            CountDownLatch go = new CountDownLatch(1);
            List<Thread> threads = new ArrayList<>();
            for (int c = 0; c < connections; c++) {
                List<byte[]> mine = bodies.get(c);
                Thread t = new Thread(() -> {
                    // One client per connection: requests on it go one after the other, as a
                    // producer waits for each acknowledgement before sending more.
                    HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                            .connectTimeout(Duration.ofSeconds(10)).build();
                    long[] lat = new long[mine.size()];
                    try {
                        go.await();
                        for (int i = 0; i < mine.size(); i++) {
                            HttpRequest req = HttpRequest.newBuilder(events_).timeout(Duration.ofMinutes(2))
                                    .header("Content-Type", "application/json")
                                    .POST(HttpRequest.BodyPublishers.ofByteArray(mine.get(i))).build();
                            long t0 = System.nanoTime();
                            HttpResponse<String> res = client.send(req, HttpResponse.BodyHandlers.ofString());
                            lat[i] = System.nanoTime() - t0;
                            if (res.statusCode() != 202 || res.body().contains("\"rejected\":[{")) {
                                throw new IllegalStateException("POST answered " + res.statusCode() + ": "
                                        + res.body().substring(0, Math.min(300, res.body().length())));
                            }
                        }
                        synchronized (latencies) {
                            latencies.add(lat);
                        }
                    } catch (Throwable e) {
                        error.compareAndSet(null, e);
                    }
                }, "http-producer-" + c);
                t.start();
                threads.add(t);
            }
            bodies.clear(); // each thread holds its own share
            long start = System.nanoTime();
            go.countDown();
            for (Thread t : threads) {
                t.join();
            }
            long acked = System.nanoTime();
            if (error.get() != null) {
                throw new IllegalStateException("HTTP ingest failed", error.get());
            }
            long stored;
            while (true) {
                double now = accepted(probe, metrics) - before;
                if (now >= events) {
                    stored = System.nanoTime();
                    break;
                }
                if (!worker.isAlive()) {
                    throw new IllegalStateException("the worker exited; see " + dir.resolve("worker.log"));
                }
                Thread.sleep(20);
            }
            long[] all = latencies.stream().flatMapToLong(Arrays::stream).sorted().toArray();
            return new Run(events / ((stored - start) / 1e9), events / ((acked - start) / 1e9),
                    Sys.percentile(all, 0.5) / 1e6, Sys.percentile(all, 0.99) / 1e6, (stored - acked) / 1e9, Sys.load());
        } finally {
            worker.toHandle().destroy(); // SIGTERM: the worker stops gracefully and writes its recording
            if (!worker.waitFor(120, TimeUnit.SECONDS)) {
                worker.destroyForcibly();
            }
        }
    }

    private static byte[] body(List<UsageEvent> batch) {
        StringBuilder b = new StringBuilder(batch.size() * 260).append('[');
        for (int i = 0; i < batch.size(); i++) {
            b.append(i == 0 ? "" : ",").append(EventCodec.toJson(batch.get(i)));
        }
        return b.append(']').toString().getBytes(StandardCharsets.UTF_8);
    }

    private static Process startWorker(Path dir) throws IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("-Xmx" + System.getProperty("tally.bench.worker-heap", "2g"));
        cmd.add("-XX:StartFlightRecording=filename=" + dir.resolve("worker.jfr") + ",settings=profile,dumponexit=true");
        String logback = System.getProperty("logback.configurationFile");
        if (logback != null) {
            cmd.add("-Dlogback.configurationFile=" + logback);
        }
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add("dev.tally.worker.UsageWorker");
        cmd.addAll(List.of("run", "--data-dir", dir.resolve("data").toString(), "--set", "http.port=0"));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.redirectError(ProcessBuilder.Redirect.appendTo(dir.resolve("worker.log").toFile()));
        return pb.start();
    }

    private static int awaitPort(Process worker, Path dir) throws Exception {
        CompletableFuture<Integer> port = new CompletableFuture<>();
        Thread reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(worker.getInputStream(),
                    StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    Matcher m = PORT.matcher(line);
                    if (m.find()) {
                        port.complete(Integer.parseInt(m.group(1)));
                    }
                }
                port.completeExceptionally(new IllegalStateException("the worker ended before listening; see "
                        + dir.resolve("worker.log")));
            } catch (IOException e) {
                port.completeExceptionally(e);
            }
        }, "worker-stdout");
        reader.setDaemon(true);
        reader.start();
        return port.get(120, TimeUnit.SECONDS);
    }

    private static double accepted(HttpClient client, URI metrics) throws Exception {
        String text = client.send(HttpRequest.newBuilder(metrics).build(), HttpResponse.BodyHandlers.ofString()).body();
        Matcher m = ACCEPTED.matcher(text);
        return m.find() ? Double.parseDouble(m.group(1)) : 0;
    }

    private static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (var paths = Files.walk(dir)) {
            paths.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }
}
