package dev.tally.worker.cli;

import dev.tally.store.UsageStore;
import dev.tally.worker.config.WorkerConfig;
import dev.tally.worker.daemon.RuntimeFile;
import dev.tally.worker.daemon.StoreOpener;
import java.time.Clock;

/**
 * What the one-shot commands that change the store (compact, retention, repair check, dlq replay)
 * share: refusing while a worker holds the store, and opening it for writing around one piece of
 * work, closed whatever happens.
 *
 * <p>Thread-safe: holds no state.
 */
final class StoreCommands {

    /** One command's work on the open store; returns the command's exit code. */
    @FunctionalInterface
    interface StoreWork {
        int run(UsageStore store);
    }

    private StoreCommands() {
    }

    /**
     * Refuses with {@link ExitCodes#STORE} when a worker runs on the data directory.
     *
     * @param instead what the worker already does and how to go on, e.g. "it applies retention ...;
     *                stop it first"
     */
    static void refuseWhileWorkerRuns(WorkerConfig config, String instead) {
        if (RuntimeFile.running(config.dataDir()).isPresent()) {
            throw new CommandException(ExitCodes.STORE, "a worker is running on " + config.dataDir()
                    + " and holds the store; " + instead);
        }
    }

    /** Opens the store for writing as {@code command}, runs {@code work} on it and closes it. */
    static int withWritableStore(WorkerConfig config, Clock clock, String command, StoreWork work) {
        try (UsageStore store = StoreOpener.openWritable(config, clock, command)) {
            return work.run(store);
        }
    }
}
