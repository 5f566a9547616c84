package dev.tally.worker.cli;

import dev.tally.store.RetentionReport;
import dev.tally.store.UsageStore;
import dev.tally.worker.config.WorkerConfig;
import dev.tally.worker.daemon.StoreOpener;
import java.io.PrintWriter;
import java.time.Clock;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** Runs retention once, or with --dry-run lists what would go and why. */
@Command(name = "retention", mixinStandardHelpOptions = true,
        description = "Run retention once: delete expired detail and rollups and orphan files, each with its reason.",
        footer = ExitCodes.HELP)
public final class RetentionCommand implements Callable<Integer> {
    @Mixin
    CommonOptions common;

    @Option(names = "--dry-run", description = "Only list what would be deleted and why; change nothing.")
    boolean dryRun;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        WorkerConfig config = common.load();
        PrintWriter out = spec.commandLine().getOut();
        StoreCommands.refuseWhileWorkerRuns(config, "it already applies retention every maintenance.interval and "
                + "logs each deletion with its reason. Stop it first to run retention" + (dryRun ? " --dry-run" : "")
                + " by hand");
        try (UsageStore store = dryRun ? config.storeBuilder(Clock.systemUTC()).readOnly(true).build()
                : StoreOpener.openWritable(config, Clock.systemUTC(), "retention")) {
            RetentionReport report = dryRun ? store.retention(true) : store.maintain();
            if (report.actions().isEmpty()) {
                out.println((dryRun ? "nothing would be deleted" : "nothing to delete") + " at " + report.ranAt());
            }
            for (RetentionReport.Action a : report.actions()) {
                out.printf("%s %-24s %s (%d rows): %s%n", dryRun ? "would delete" : "deleted", a.reason(), a.path(),
                        a.rows(), a.detail());
            }
        }
        return ExitCodes.OK;
    }
}
