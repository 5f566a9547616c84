package dev.tally.worker.cli;

import dev.tally.worker.config.Setting;
import dev.tally.worker.config.WorkerConfig;
import dev.tally.worker.daemon.Worker;
import java.io.PrintWriter;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;
import sun.misc.Signal;

/**
 * The daemon: HTTP API, import loop and maintenance loop until SIGTERM or SIGINT, then a graceful
 * stop (exit 0), or exit 5 on an unrecoverable error.
 */
@Command(name = "run", mixinStandardHelpOptions = true,
        description = {"Run the worker: the HTTP API (POST /v1/events, queries, /metrics), the import loop and "
                + "the maintenance loop (seal, retention, journal rotation) over one data directory.",
                "Stops gracefully on SIGTERM or Ctrl-C (SIGINT): stops intake, finishes the current batch, "
                        + "checkpoints and unlocks the store, exits 0. Only one worker may run per data directory."},
        footer = ExitCodes.HELP)
public final class RunCommand implements Callable<Integer> {
    private static final Logger log = LoggerFactory.getLogger(RunCommand.class);

    @Mixin
    CommonOptions common;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws InterruptedException {
        WorkerConfig config = common.load();
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        Worker worker = Worker.open(config, Clock.systemUTC());
        installSignalHandlers(worker);
        worker.start();
        out.println("usage-worker running; data dir " + config.dataDir());
        worker.httpPort().ifPresentOrElse(
                port -> out.println("usage-worker HTTP API listening on http://" + hostForUrl(worker.httpHost()) + ":"
                        + port),
                () -> out.println("usage-worker HTTP API disabled (http.port = -1)"));
        out.println("usage-worker stop with Ctrl-C or SIGTERM");
        out.flush();

        Throwable fatal = worker.awaitStopOrFatal();
        Duration timeout = config.duration(Setting.SHUTDOWN_TIMEOUT);
        boolean clean = shutdownWithin(worker, timeout);
        if (fatal != null) {
            err.println("usage-worker run: FATAL: " + describe(fatal) + "; stopped (exit code " + ExitCodes.FATAL
                    + "). Check the disk and the log above, then start the worker again.");
            err.flush();
            return ExitCodes.FATAL;
        }
        if (!clean) {
            err.println("usage-worker run: the graceful stop did not finish within shutdown.timeout = " + timeout
                    + "; exiting anyway. The store recovers on the next start.");
            err.flush();
            return ExitCodes.FATAL;
        }
        out.println("usage-worker stopped cleanly");
        out.flush();
        return ExitCodes.OK;
    }

    /** Runs the shutdown on its own thread so a hang cannot keep the process past the timeout. */
    private static boolean shutdownWithin(Worker worker, Duration timeout) throws InterruptedException {
        AtomicBoolean clean = new AtomicBoolean();
        Thread t = new Thread(() -> clean.set(worker.shutdown(timeout)), "tally-shutdown");
        t.setDaemon(true);
        t.start();
        t.join(timeout.toMillis() + 2_000);
        return !t.isAlive() && clean.get();
    }

    /**
     * SIGTERM and SIGINT ask for a graceful stop. Handled with {@link Signal} rather than a
     * shutdown hook, so the process exits with 0 after a clean stop instead of 143 or 130.
     */
    private static void installSignalHandlers(Worker worker) {
        for (String name : new String[] {"TERM", "INT"}) {
            try {
                Signal.handle(new Signal(name), s -> worker.requestStop("SIG" + name));
            } catch (IllegalArgumentException e) {
                log.warn("cannot handle SIG{} on this platform: {}", name, e.getMessage());
            }
        }
    }

    private static String hostForUrl(String host) {
        return host.contains(":") && !host.startsWith("[") ? "[" + host + "]" : host;
    }

    private static String describe(Throwable t) {
        return t.getMessage() == null ? t.toString() : t.getMessage();
    }
}
