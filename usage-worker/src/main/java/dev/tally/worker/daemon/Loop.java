package dev.tally.worker.daemon;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A background loop on its own thread: runs a step, then pauses for the interval (or runs again at
 * once when the step did work). A step that throws is logged and retried after an exponential
 * backoff (1s, 2s, 4s ... up to the maximum), so the thread never dies silently and its health is
 * always visible. A throwable the {@code fatal} predicate accepts (every {@link Error}, and
 * failures the worker cannot recover from, such as a failed fsync) ends the loop and is handed to
 * {@code onFatal}, which stops the process loudly.
 *
 * <p>{@link #stop()} lets the current pass finish and ends the loop without interrupting it, so a
 * batch is never cut in the middle of a file write.
 *
 * <p>Thread-safe.
 */
public final class Loop {
    private static final Logger log = LoggerFactory.getLogger(Loop.class);
    static final Duration FIRST_BACKOFF = Duration.ofSeconds(1);

    /** One pass of a loop. */
    @FunctionalInterface
    public interface Step {
        /** Runs one pass; returns whether it did work (then the next pass starts at once). */
        boolean run() throws Exception;
    }

    private final String name;
    private final Duration interval;
    private final Duration maxBackoff;
    private final Step step;
    private final Predicate<Throwable> fatal;
    private final Consumer<Throwable> onFatal;
    private final Clock clock;
    private final Thread thread;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition wake = lock.newCondition();

    // Guarded by lock.
    private boolean stopping;
    private boolean kicked;
    private long passes;
    private long failures;
    private int consecutiveFailures;
    private String lastError = "";
    private Instant lastSuccess;
    private Instant lastFailure;

    public Loop(String name, Duration interval, Duration maxBackoff, Step step, Predicate<Throwable> fatal,
            Consumer<Throwable> onFatal, Clock clock) {
        this.name = Objects.requireNonNull(name, "name");
        this.interval = interval;
        this.maxBackoff = maxBackoff;
        this.step = step;
        this.fatal = fatal;
        this.onFatal = onFatal;
        this.clock = clock;
        this.thread = new Thread(this::runLoop, "tally-" + name + "-loop");
        this.thread.setDaemon(true);
    }

    public String name() {
        return name;
    }

    public void start() {
        thread.start();
    }

    /** Starts the next pass now instead of after the pause (used after new events arrived). */
    public void kick() {
        lock.lock();
        try {
            kicked = true;
            wake.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Asks the loop to end after its current pass; does not wait. */
    public void stop() {
        lock.lock();
        try {
            stopping = true;
            wake.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Waits up to {@code timeout} for the loop's thread to end; returns whether it did. */
    public boolean await(Duration timeout) throws InterruptedException {
        thread.join(Math.max(1, timeout.toMillis()));
        return !thread.isAlive();
    }

    /**
     * Where the loop's thread is now, one frame per line, or empty once it ended: logged when a
     * graceful stop times out, so the pass that did not finish is named, not guessed.
     */
    public String where() {
        StackTraceElement[] frames = thread.getStackTrace();
        StringBuilder b = new StringBuilder();
        for (StackTraceElement f : frames) {
            b.append("\n\tat ").append(f);
        }
        return b.toString();
    }

    public LoopHealth health() {
        lock.lock();
        try {
            return new LoopHealth(name, passes, failures, consecutiveFailures, lastError, lastSuccess, lastFailure,
                    thread.isAlive() && !stopping);
        } finally {
            lock.unlock();
        }
    }

    /** The pause before the next try after {@code failuresInARow} failures: 1s doubling, capped. */
    static Duration backoff(int failuresInARow, Duration max) {
        int shift = Math.min(30, Math.max(0, failuresInARow - 1));
        Duration d = FIRST_BACKOFF.multipliedBy(1L << shift);
        return d.compareTo(max) > 0 ? max : d;
    }

    private void runLoop() {
        log.debug("{} loop started (interval {})", name, interval);
        while (!isStopping()) {
            boolean worked;
            try {
                worked = step.run();
            } catch (Throwable t) {
                if (fatal.test(t)) {
                    recordFailure(t);
                    log.error("{} loop hit an unrecoverable error and stops: {}", name, describe(t), t);
                    onFatal.accept(t);
                    return;
                }
                int inARow = recordFailure(t);
                Duration pause = backoff(inARow, maxBackoff);
                if (inARow == 1) {
                    log.error("{} pass failed; retrying in {} ms: {}", name, pause.toMillis(), describe(t), t);
                } else {
                    log.error("{} pass failed again ({} in a row); retrying in {} ms: {}", name, inARow,
                            pause.toMillis(), describe(t));
                }
                pause(pause, false);
                continue;
            }
            recordSuccess();
            if (!worked) {
                pause(interval, true);
            }
        }
        log.debug("{} loop stopped", name);
    }

    private boolean isStopping() {
        lock.lock();
        try {
            return stopping;
        } finally {
            lock.unlock();
        }
    }

    private void recordSuccess() {
        lock.lock();
        try {
            if (consecutiveFailures > 0) {
                log.info("{} pass succeeded again after {} failure(s)", name, consecutiveFailures);
            }
            passes++;
            consecutiveFailures = 0;
            lastError = "";
            lastSuccess = clock.instant();
        } finally {
            lock.unlock();
        }
    }

    private int recordFailure(Throwable t) {
        lock.lock();
        try {
            failures++;
            consecutiveFailures++;
            lastError = describe(t);
            lastFailure = clock.instant();
            return consecutiveFailures;
        } finally {
            lock.unlock();
        }
    }

    /** Sleeps for {@code d} unless stopped (or, when {@code kickable}, kicked) first. */
    private void pause(Duration d, boolean kickable) {
        long nanos = d.toNanos();
        lock.lock();
        try {
            while (!stopping && nanos > 0 && !(kickable && kicked)) {
                try {
                    nanos = wake.awaitNanos(nanos);
                } catch (InterruptedException e) {
                    stopping = true;
                    Thread.currentThread().interrupt();
                }
            }
            kicked = false;
        } finally {
            lock.unlock();
        }
    }

    static String describe(Throwable t) {
        String m = t.getMessage();
        return m == null || m.isBlank() ? t.getClass().getSimpleName() : m;
    }
}
