package dev.tally.worker.demo;

import java.io.PrintWriter;
import java.util.Locale;

/**
 * Progress of a long step. On a terminal it redraws one bar line in place (at most ten times a
 * second); otherwise (a pipe, a CI log) it prints a plain line at every tenth of the way, so logs
 * stay readable.
 *
 * <p>Not thread-safe: one reporting thread.
 */
public final class Progress {
    private static final int WIDTH = 28;

    private final PrintWriter out;
    private final String label;
    private final long total;
    private final boolean terminal;
    private final long startNanos = System.nanoTime();
    private long lastDraw;
    private int lastTenth = -1;
    private boolean finished;
    private long base = -1;

    public Progress(PrintWriter out, String label, long total, boolean terminal) {
        this.out = out;
        this.label = label;
        this.total = Math.max(1, total);
        this.terminal = terminal;
    }

    /** Reports that {@code done} of the total are done. */
    public void update(long done) {
        if (finished) {
            return;
        }
        long now = System.nanoTime();
        if (terminal) {
            if (now - lastDraw >= 100_000_000L || done >= total) {
                lastDraw = now;
                out.print("\r" + line(done, now));
                out.flush();
            }
        } else {
            int tenth = (int) Math.min(10, done * 10 / total);
            if (tenth > lastTenth && tenth < 10) {
                lastTenth = tenth;
                out.println(line(done, now));
                out.flush();
            }
        }
    }

    /** Ends the step, printing the final state. */
    public void finish(long done) {
        if (finished) {
            return;
        }
        long now = System.nanoTime();
        if (terminal) {
            out.print("\r" + line(done, now) + "\n");
        } else {
            out.println(line(done, now));
        }
        out.flush();
        finished = true;
    }

    String line(long done, long now) {
        if (base < 0) {
            base = done; // the rate counts what happened while this step was shown
        }
        double seconds = Math.max(1e-3, (now - startNanos) / 1e9);
        double rate = (done - base) / seconds;
        int pct = (int) Math.min(100, done * 100 / total);
        String counts = String.format(Locale.ROOT, "%,d/%,d  %s/s  %.1fs", done, total, human(rate), seconds);
        if (!terminal) {
            return String.format(Locale.ROOT, "  %-16s %3d%%  %s", label, pct, counts);
        }
        int filled = (int) Math.min(WIDTH, done * WIDTH / total);
        return String.format(Locale.ROOT, "  %-16s [%s%s] %3d%%  %s", label, "#".repeat(filled),
                "-".repeat(WIDTH - filled), pct, counts);
    }

    static String human(double rate) {
        if (rate >= 1e6) {
            return String.format(Locale.ROOT, "%.1fM", rate / 1e6);
        }
        if (rate >= 1e3) {
            return String.format(Locale.ROOT, "%.0fk", rate / 1e3);
        }
        return String.format(Locale.ROOT, "%.0f", rate);
    }
}
