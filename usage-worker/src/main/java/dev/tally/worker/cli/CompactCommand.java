package dev.tally.worker.cli;

import dev.tally.store.CompactionReport;
import dev.tally.worker.config.WorkerConfig;
import java.io.PrintWriter;
import java.time.Clock;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** Compacts every closed UTC day now, whatever compaction.after says. */
@Command(name = "compact", mixinStandardHelpOptions = true,
        description = "Merge the sealed parts of every closed UTC day into one file per month (rollups) and per "
                + "ISO week (detail) now; maintenance does it by itself once a day ended compaction.after ago.",
        footer = ExitCodes.HELP)
public final class CompactCommand implements Callable<Integer> {
    @Mixin
    CommonOptions common;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        WorkerConfig config = common.load();
        PrintWriter out = spec.commandLine().getOut();
        StoreCommands.refuseWhileWorkerRuns(config, "it compacts days that ended compaction.after ago at every "
                + "maintenance.interval. Stop it first to compact by hand");
        return StoreCommands.withWritableStore(config, Clock.systemUTC(), "compact", store -> {
            CompactionReport report = store.compact(true);
            if (report.units().isEmpty()) {
                out.println("nothing to compact up to " + report.lastDay());
            }
            for (CompactionReport.Unit u : report.units()) {
                out.printf("compacted %d %s parts into %s (%d rows, %d bytes)%n", u.sources(),
                        u.kind().toLowerCase(java.util.Locale.ROOT), u.path(), u.rows(), u.bytes());
            }
            return ExitCodes.OK;
        });
    }
}
