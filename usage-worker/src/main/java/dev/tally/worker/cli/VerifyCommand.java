package dev.tally.worker.cli;

import dev.tally.store.verify.ReportFormat;
import dev.tally.store.verify.Verifier;
import dev.tally.store.verify.VerifyReport;
import dev.tally.worker.config.Setting;
import dev.tally.worker.config.WorkerConfig;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * Reconciles stored usage with its sources, report-only: never writes, takes none of the store's
 * locks, so it runs beside the daemon. See docs/verify.md.
 */
@Command(name = "verify", mixinStandardHelpOptions = true,
        description = {"Reconcile stored usage with its sources (journal files and spool files still on disk), "
                + "report-only: it never writes and takes no lock, so it runs beside the daemon.",
                "Every source line is unchanged, changed, missing, dead-lettered, pending, raced, expired or "
                        + "inconclusive; see docs/verify.md."},
        footer = ExitCodes.HELP)
public final class VerifyCommand implements Callable<Integer> {
    /** Output formats. */
    enum Format { table, json }

    @Mixin
    CommonOptions common;

    @Option(names = "--fail-on-change",
            description = "Exit 1 when a line or file is changed or missing, a key is stored twice, or the evidence "
                    + "is inconclusive (verify fails closed). Raced, pending, dead-lettered and expired lines never "
                    + "fail the run.")
    boolean failOnChange;

    @Option(names = "--format", defaultValue = "table", paramLabel = "table|json",
            description = "Output format (default: ${DEFAULT-VALUE}).")
    Format format;

    @Option(names = "--max-findings", defaultValue = "" + Verifier.DEFAULT_MAX_FINDINGS, paramLabel = "N",
            description = "List at most N lines per class (all are counted; default: ${DEFAULT-VALUE}).")
    int maxFindings;

    @Option(names = "--temp-dir", paramLabel = "DIR",
            description = "Where the snapshot copies go (default: the system temp directory); outside the data "
                    + "directory, on its file system if possible so sealed parts are pinned by hard links.")
    Path tempDir;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        WorkerConfig config = common.load();
        Verifier.Builder b = Verifier.builder(config.dataDir())
                .spoolDirs(config.paths(Setting.SPOOL_DIRS))
                .detailRetention(config.duration(Setting.RETENTION_DETAIL))
                .rollupRetention(config.duration(Setting.RETENTION_ROLLUPS))
                .maxLineBytes((int) Math.min(Integer.MAX_VALUE - 16, config.size(Setting.IMPORT_MAX_LINE_BYTES)))
                .maxFindingsPerClass(maxFindings);
        if (tempDir != null) {
            b.tempDir(tempDir);
        }
        VerifyReport report = b.build().run();
        PrintWriter out = spec.commandLine().getOut();
        out.print(format == Format.json ? ReportFormat.json(report) + System.lineSeparator() : ReportFormat.table(report));
        out.flush();
        return failOnChange && report.drift() ? ExitCodes.CHANGES_FOUND : ExitCodes.OK;
    }
}
