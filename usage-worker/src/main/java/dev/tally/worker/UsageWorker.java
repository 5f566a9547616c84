package dev.tally.worker;

import dev.tally.store.StoreException;
import dev.tally.worker.cli.CatalogCommand;
import dev.tally.worker.cli.CommandException;
import dev.tally.worker.cli.DemoCommand;
import dev.tally.worker.cli.DlqCommand;
import dev.tally.worker.cli.ExitCodes;
import dev.tally.worker.cli.ImportCommand;
import dev.tally.worker.cli.QueryCommand;
import dev.tally.worker.cli.RepairCommand;
import dev.tally.worker.cli.CompactCommand;
import dev.tally.worker.cli.RetentionCommand;
import dev.tally.worker.cli.RunCommand;
import dev.tally.worker.cli.SegmentsCommand;
import dev.tally.worker.cli.SqlCommand;
import dev.tally.worker.cli.CorrectCommand;
import dev.tally.worker.cli.VerifyCommand;
import dev.tally.worker.config.ConfigException;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** The {@code usage-worker} command line. */
@Command(name = "usage-worker", mixinStandardHelpOptions = true, versionProvider = UsageWorker.Version.class,
        description = "Tally usage-metering worker: daemon, import, queries and maintenance over one data directory.",
        subcommands = {RunCommand.class, DemoCommand.class, ImportCommand.class, QueryCommand.class, SqlCommand.class,
                SegmentsCommand.class, RetentionCommand.class, CompactCommand.class, DlqCommand.class, VerifyCommand.class,
                RepairCommand.class, CatalogCommand.class, CorrectCommand.class},
        footer = ExitCodes.HELP)
public final class UsageWorker implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    /** Without a command: the usage, and exit code 2. */
    @Override
    public Integer call() {
        spec.commandLine().usage(spec.commandLine().getErr());
        return ExitCodes.USAGE;
    }

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs a command line and returns its exit code. */
    public static int run(String... args) {
        return run(null, null, args);
    }

    /** Runs a command line with its output and errors going to the writers given (null: standard streams). */
    public static int run(PrintWriter out, PrintWriter err, String... args) {
        CommandLine cli = new CommandLine(new UsageWorker());
        if (out != null) {
            cli.setOut(out);
        }
        if (err != null) {
            cli.setErr(err);
        }
        cli.setExitCodeExceptionMapper(UsageWorker::exitCode);
        cli.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            int code = exitCode(ex);
            if (code == ExitCodes.FATAL) {
                LoggerFactory.getLogger(UsageWorker.class).error("{} failed", cmd.getCommandSpec().qualifiedName(), ex);
            }
            cmd.getErr().println(cmd.getCommandSpec().qualifiedName() + ": " + message(ex));
            cmd.getErr().flush();
            return code;
        });
        try {
            return cli.execute(args);
        } finally {
            cli.getOut().flush();
            cli.getErr().flush();
        }
    }

    static int exitCode(Throwable t) {
        if (t instanceof CommandException c) {
            return c.exitCode();
        }
        if (t instanceof ConfigException) {
            return ExitCodes.CONFIG;
        }
        if (t instanceof StoreException) {
            return ExitCodes.STORE;
        }
        if (t instanceof CommandLine.ParameterException) {
            return ExitCodes.USAGE;
        }
        return ExitCodes.FATAL;
    }

    private static String message(Throwable t) {
        String m = t.getMessage();
        return m == null ? t.toString() : m;
    }

    /** Prints the version from the jar manifest. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = UsageWorker.class.getPackage().getImplementationVersion();
            return new String[] {"usage-worker " + (v == null ? "dev" : v)};
        }
    }
}
