package dev.tally.store.testing;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/** Starts a main class of the test class path in a child JVM and reads its output line by line. */
public final class ChildJvm implements AutoCloseable {
    private final Process process;
    /** The child's own java.io.tmpdir, deleted once it is dead. */
    private final Path tmp;
    private final BlockingQueue<String> lines = new LinkedBlockingQueue<>();
    private final List<String> all = new ArrayList<>();

    private ChildJvm(Process process, Path tmp) {
        this.process = process;
        this.tmp = tmp;
        Thread reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    lines.add(line);
                }
            } catch (IOException ignored) {
                // the child was killed
            }
            lines.add("<EOF>");
        }, "child-output");
        reader.setDaemon(true);
        reader.start();
    }

    public static ChildJvm start(Class<?> main, Path log, String... args) throws IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.add("-Xmx512m");
        Path tmp = ChildTmp.create();
        cmd.add(ChildTmp.option(tmp));
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(main.getName());
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.redirectError(ProcessBuilder.Redirect.appendTo(log.toFile()));
        try {
            return new ChildJvm(pb.start(), tmp);
        } catch (IOException e) {
            ChildTmp.delete(tmp);
            throw e;
        }
    }

    /** Waits for a line starting with {@code prefix}; returns it, or null at end of output or timeout. */
    public String await(String prefix, long seconds) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        while (true) {
            long left = deadline - System.nanoTime();
            String line = left <= 0 ? null : lines.poll(left, TimeUnit.NANOSECONDS);
            if (line == null || line.equals("<EOF>")) {
                return null;
            }
            all.add(line);
            if (line.startsWith(prefix)) {
                return line;
            }
        }
    }

    /** The child process, for its pid and its standard input. */
    public Process process() {
        return process;
    }

    public List<String> output() {
        return all;
    }

    /** Kills the child as a crash would ({@code kill -9}). */
    public void kill() throws InterruptedException {
        process.destroyForcibly();
        if (process.waitFor(30, TimeUnit.SECONDS)) {
            ChildTmp.delete(tmp);
        }
    }

    public int waitFor(long seconds) throws InterruptedException {
        if (!process.waitFor(seconds, TimeUnit.SECONDS)) {
            throw new IllegalStateException("child did not exit within " + seconds + " s; output: " + all);
        }
        return process.exitValue();
    }

    @Override
    public void close() throws InterruptedException {
        if (process.isAlive()) {
            kill();
        } else {
            ChildTmp.delete(tmp);
        }
    }
}
