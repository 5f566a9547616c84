package dev.tally.worker.testing;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import dev.tally.store.testing.ChildTmp;

/**
 * {@code usage-worker} in a child JVM on the test class path: standard output is read line by
 * line, standard error goes to a log file; {@link #terminate()} sends SIGTERM as a service
 * manager would.
 */
public final class WorkerProcess implements AutoCloseable {
    private static final Pattern PORT = Pattern.compile("listening on http://[^:\\s]+:(\\d+)");

    private final Process process;
    private final Path stderr;
    /** Size of {@link #stderr} when this child started: earlier children of a loop may share the file. */
    private final long stderrStart;
    /** The child's own java.io.tmpdir, deleted once it is dead. */
    private final Path tmp;
    private final BlockingQueue<String> lines = new LinkedBlockingQueue<>();
    private final List<String> seen = new ArrayList<>();
    private boolean eof;

    private WorkerProcess(Process process, Path stderr, long stderrStart, Path tmp) {
        this.process = process;
        this.stderr = stderr;
        this.stderrStart = stderrStart;
        this.tmp = tmp;
        Thread reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(),
                    StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    lines.add(line);
                }
            } catch (IOException ignored) {
                // the process ended
            }
            lines.add("\u0000EOF");
        }, "worker-stdout");
        reader.setDaemon(true);
        reader.start();
    }

    /** Starts {@code usage-worker args...}; its standard error is appended to {@code stderr}. */
    public static WorkerProcess start(Path stderr, String... args) throws IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("-Xmx384m");
        cmd.add("-XX:TieredStopAtLevel=1");
        Path tmp = ChildTmp.create();
        cmd.add(ChildTmp.option(tmp));
        cmd.add("-Dlogback.configurationFile=logback.xml"); // the shipped configuration, not a test one
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add("dev.tally.worker.UsageWorker");
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.redirectError(ProcessBuilder.Redirect.appendTo(stderr.toFile()));
        pb.redirectInput(ProcessBuilder.Redirect.PIPE);
        long stderrStart = Files.exists(stderr) ? Files.size(stderr) : 0;
        try {
            return new WorkerProcess(pb.start(), stderr, stderrStart, tmp);
        } catch (IOException e) {
            ChildTmp.delete(tmp);
            throw e;
        }
    }

    /** Runs a command to its end; returns exit code, standard output and standard error. */
    public static Result runToEnd(Path stderr, long seconds, String... args) throws Exception {
        try (WorkerProcess p = start(stderr, args)) {
            int code = p.waitFor(seconds);
            p.drain();
            return new Result(code, String.join("\n", p.seen), Files.exists(stderr) ? Files.readString(stderr) : "");
        }
    }

    /** A finished command. */
    public record Result(int exitCode, String out, String err) {
    }

    /** Waits for a stdout line containing {@code text}; returns it, or throws with what was seen. */
    public String awaitLine(String text, long seconds) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (true) {
            long left = deadline - System.nanoTime();
            String line = left <= 0 ? null : lines.poll(left, TimeUnit.NANOSECONDS);
            if (line != null && line.equals("\u0000EOF")) {
                eof = true;
            }
            if (line == null || eof) {
                throw new AssertionError("no line containing '" + text + "' within " + seconds + " s; stdout: " + seen
                        + "; stderr: " + stderrText());
            }
            seen.add(line);
            if (line.contains(text)) {
                return line;
            }
        }
    }

    /** Waits for the API's start line and returns its port. */
    public int awaitPort(long seconds) throws Exception {
        Matcher m = PORT.matcher(awaitLine("listening on http://", seconds));
        if (!m.find()) {
            throw new AssertionError("no port in the start line");
        }
        return Integer.parseInt(m.group(1));
    }

    /**
     * Sends SIGTERM. Through the process handle, because {@link Process#destroy()} also closes our
     * end of the child's output, which would lose what it prints while stopping.
     */
    public void terminate() {
        process.toHandle().destroy();
    }

    public int waitFor(long seconds) throws InterruptedException {
        if (!process.waitFor(seconds, TimeUnit.SECONDS)) {
            throw new AssertionError("the worker did not exit within " + seconds + " s; stdout: " + seen
                    + "; stderr: " + stderrText());
        }
        return process.exitValue();
    }

    /**
     * Everything printed on stdout so far; once the process has ended, waits until its output is
     * read to the end.
     */
    public List<String> drain() throws InterruptedException {
        boolean ended = !process.isAlive();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!eof) {
            String line = ended ? lines.poll(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)
                    : lines.poll();
            if (line == null) {
                break;
            }
            if (line.equals("\u0000EOF")) {
                eof = true;
            } else {
                seen.add(line);
            }
        }
        return seen;
    }

    /** What this child wrote to standard error (the last 20,000 characters of it). */
    public String stderrText() {
        try {
            if (!Files.exists(stderr)) {
                return "";
            }
            byte[] all = Files.readAllBytes(stderr);
            int from = (int) Math.min(stderrStart, all.length);
            String text = new String(all, from, all.length - from, StandardCharsets.UTF_8);
            return text.length() <= 20_000 ? text : "..." + text.substring(text.length() - 20_000);
        } catch (IOException e) {
            return "(cannot read " + stderr + ": " + e + ")";
        }
    }

    public boolean alive() {
        return process.isAlive();
    }

    @Override
    public void close() throws InterruptedException {
        if (process.isAlive()) {
            process.destroyForcibly();
            process.waitFor(30, TimeUnit.SECONDS);
        }
        if (!process.isAlive()) {
            ChildTmp.delete(tmp);
        }
    }
}
