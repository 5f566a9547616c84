package dev.tally.worker.cli;

import dev.tally.store.repair.RepairReport;
import dev.tally.store.read.StoreReader;
import dev.tally.store.repair.StoreRepair;
import dev.tally.worker.config.WorkerConfig;
import dev.tally.worker.daemon.RuntimeFile;
import dev.tally.worker.daemon.StoreOpener;
import java.io.PrintWriter;
import java.time.Clock;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** Offline repairs the store asks for when it refuses to open damaged files. */
@Command(name = "repair", mixinStandardHelpOptions = true,
        description = {"Offline repairs for damage the store refuses to guess about. Each needs the worker on the "
                + "data directory to be stopped, keeps every damaged original under quarantine/, and reports what "
                + "it changed and what was lost. The store's error messages name the repair to run."},
        subcommands = {RepairCommand.Manifest.class, RepairCommand.Wal.class, RepairCommand.Active.class,
                RepairCommand.Check.class},
        footer = ExitCodes.HELP)
public final class RepairCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        spec.commandLine().usage(spec.commandLine().getOut());
        return ExitCodes.USAGE;
    }

    static void requireStopped(WorkerConfig config, String what) {
        if (RuntimeFile.running(config.dataDir()).isPresent() || StoreOpener.isLocked(config.dataDir())) {
            throw new CommandException(ExitCodes.STORE, "a worker is running on " + config.dataDir() + "; stop it "
                    + "before 'repair " + what + "'");
        }
    }

    static int print(PrintWriter out, RepairReport r) {
        r.actions().forEach(a -> out.println("done: " + a));
        r.losses().forEach(l -> out.println("LOST: " + l));
        if (r.losses().isEmpty()) {
            out.println("nothing was lost");
        }
        return ExitCodes.OK;
    }

    /** Rebuilds manifest.json from the Parquet parts. */
    @Command(name = "manifest", mixinStandardHelpOptions = true,
            description = "Rebuild manifest.json from the parts in archive/ and rollups/ (the damaged manifest is "
                    + "kept under quarantine/). Parts of segments that will be sealed again are left out, so no "
                    + "row is counted twice.", footer = ExitCodes.HELP)
    public static final class Manifest implements Callable<Integer> {
        @Mixin
        CommonOptions common;

        @Spec
        CommandSpec spec;

        @Override
        public Integer call() {
            WorkerConfig config = common.load();
            requireStopped(config, "manifest");
            return print(spec.commandLine().getOut(), StoreRepair.rebuildManifest(config.dataDir(), Clock.systemUTC()));
        }
    }

    /** Cuts a damaged DuckDB write-ahead log back to its last good transaction. */
    @Command(name = "wal", mixinStandardHelpOptions = true,
            description = "Repair a damaged DuckDB write-ahead log of a segment: keep a copy under quarantine/, cut "
                    + "the log where DuckDB reports the damage, and say how much was lost (those events are still in "
                    + "the journal or the spool if they came from there: run import afterwards).",
            footer = ExitCodes.HELP)
    public static final class Wal implements Callable<Integer> {
        @Mixin
        CommonOptions common;

        @Spec
        CommandSpec spec;

        @Override
        public Integer call() {
            WorkerConfig config = common.load();
            requireStopped(config, "wal");
            return print(spec.commandLine().getOut(), StoreRepair.repairWal(config.dataDir(), Clock.systemUTC()));
        }
    }

    /** Sets aside an active or pending segment that does not open, so the journal can rebuild it. */
    @Command(name = "active", mixinStandardHelpOptions = true,
            description = {"Set aside a damaged active or pending segment (the store opens degraded: sealed data "
                    + "readable, appends and imports refused): move it and its write-ahead log to quarantine/ with a "
                    + "reason file, so the next start begins a fresh active segment; for a pending one, also clear "
                    + "the import positions of the segments above it. Then run import: events still in journal or "
                    + "spool files are stored again, those already stored are dropped by id. Events "
                    + "appended through the library API without a journal cannot be recovered.",
                    "Without --apply, only reports what it would do. For a damaged write-ahead log alone, "
                    + "'repair wal' keeps more (the transactions before the damage)."},
            footer = ExitCodes.HELP)
    public static final class Active implements Callable<Integer> {
        @Mixin
        CommonOptions common;

        @Spec
        CommandSpec spec;

        @Option(names = "--apply", description = "Move the damaged segment aside (default: report only).")
        boolean apply;

        @Override
        public Integer call() {
            WorkerConfig config = common.load();
            requireStopped(config, "active");
            return print(spec.commandLine().getOut(), StoreRepair.repairActive(config.dataDir(), Clock.systemUTC(),
                    apply));
        }
    }

    /** Checks every sealed part's size and checksum. */
    @Command(name = "check", mixinStandardHelpOptions = true,
            description = {"Read every sealed Parquet part and check its size and CRC32C against the manifest; "
                    + "damaged parts are quarantined (the rest stays queryable; restore them from a backup).",
                    "Exit code 1 when damage was found."},
            footer = ExitCodes.HELP)
    public static final class Check implements Callable<Integer> {
        @Mixin
        CommonOptions common;

        @Spec
        CommandSpec spec;

        @Override
        public Integer call() {
            WorkerConfig config = common.load();
            requireStopped(config, "check");
            PrintWriter out = spec.commandLine().getOut();
            return StoreCommands.withWritableStore(config, Clock.systemUTC(), "repair check", store -> {
                List<String> problems = StoreReader.of(store).verifyParts();
                if (problems.isEmpty()) {
                    out.println("every sealed part is intact");
                    return ExitCodes.OK;
                }
                problems.forEach(p -> out.println("DAMAGED (quarantined): " + p));
                return ExitCodes.CHANGES_FOUND;
            });
        }
    }
}
