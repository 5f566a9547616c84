package dev.tally.worker.cli;

import dev.tally.catalog.CatalogCheck;
import dev.tally.catalog.CatalogSettings;
import dev.tally.catalog.CatalogSync;
import dev.tally.catalog.TallyTable;
import dev.tally.worker.config.CatalogConfig;
import dev.tally.worker.config.WorkerConfig;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.apache.iceberg.FileScanTask;
import org.apache.iceberg.Snapshot;
import org.apache.iceberg.Table;
import org.apache.iceberg.io.CloseableIterable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * For operators: the catalog's tables, their recent snapshots and (with {@code --files}) their
 * data files, then the check of each table against this data directory's manifest. Exits 1 when
 * a table's file list differs from the manifest (a running worker repairs that on its next
 * maintenance pass; a stopped one at its next start). Changes nothing in the catalog beyond
 * creating the two tables if they do not exist yet.
 */
@Command(name = "catalog", mixinStandardHelpOptions = true,
        description = {"List the Iceberg catalog's tables, snapshots and files, and check them against the manifest.",
                "Needs catalog.uri (sqlite, or a JDBC URL). Exit code 1 when the catalog's files differ from the "
                        + "manifest's parts; the worker repairs that on its next maintenance pass or start."},
        footer = ExitCodes.HELP)
public final class CatalogCommand implements Callable<Integer> {
    @Mixin
    CommonOptions common;

    @Spec
    CommandSpec spec;

    @Option(names = "--files", description = "List every data file of this data directory in each table.")
    boolean files;

    @Option(names = "--snapshots", paramLabel = "N", defaultValue = "5",
            description = "Show the newest N snapshots of each table (default: ${DEFAULT-VALUE}).")
    int snapshots;

    @Override
    public Integer call() {
        WorkerConfig config = common.loadQuiet();
        PrintWriter out = spec.commandLine().getOut();
        CatalogSettings settings = CatalogConfig.settings(config).orElseThrow(() -> new CommandException(
                ExitCodes.CONFIG, "catalog.uri is off: set catalog.uri (sqlite, or a JDBC URL) to use a catalog"));
        boolean consistent = true;
        try (CatalogSync sync = CatalogSync.open(config.dataDir(), settings)) {
            out.printf(Locale.ROOT, "catalog %s, namespace %s, warehouse %s%n", CatalogSettings.redact(settings.uri()),
                    settings.namespace(), settings.warehouse());
            for (TallyTable t : TallyTable.values()) {
                Table table = sync.table(t);
                Snapshot current = table.currentSnapshot();
                out.printf(Locale.ROOT, "%ntable %s.%s  location %s%n", settings.namespace(), t.tableName(),
                        table.location());
                if (current == null) {
                    out.println("  no snapshot yet");
                } else {
                    Map<String, String> sum = current.summary();
                    out.printf(Locale.ROOT, "  current snapshot %d: %s files, %s records (all workers)%n",
                            current.snapshotId(), sum.getOrDefault("total-data-files", "?"),
                            sum.getOrDefault("total-records", "?"));
                }
                List<Snapshot> all = new ArrayList<>();
                table.snapshots().forEach(all::add);
                out.printf(Locale.ROOT, "  snapshots: %d kept%n", all.size());
                for (int i = Math.max(0, all.size() - snapshots); i < all.size(); i++) {
                    Snapshot s = all.get(i);
                    Map<String, String> sum = s.summary();
                    out.printf(Locale.ROOT, "  %20d  %s  %-9s +%s -%s files  %s%n", s.snapshotId(),
                            Instant.ofEpochMilli(s.timestampMillis()), s.operation(),
                            sum.getOrDefault("added-data-files", "0"), sum.getOrDefault("deleted-data-files", "0"),
                            sum.getOrDefault(CatalogSync.SUMMARY_DATA_DIR, ""));
                }
                if (files && current != null) {
                    String prefix = config.dataDir().toAbsolutePath().normalize().toUri().toString();
                    try (CloseableIterable<FileScanTask> tasks = table.newScan().ignoreResiduals().planFiles()) {
                        for (FileScanTask task : tasks) {
                            if (task.file().location().startsWith(prefix)) {
                                out.printf(Locale.ROOT, "  file %s  %,d records  %,d bytes%n",
                                        task.file().location().substring(prefix.length()), task.file().recordCount(),
                                        task.file().fileSizeInBytes());
                            }
                        }
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                }
            }
            out.println();
            for (CatalogCheck c : sync.check()) {
                consistent &= c.consistent();
                out.printf(Locale.ROOT, "check %s: %s (%d parts in the manifest, %d files of this data directory "
                        + "in the catalog)%n", c.table().tableName(), c.consistent() ? "consistent" : "DIFFERS",
                        c.expected(), c.registered());
                c.missing().forEach(f -> out.println("  missing from the catalog: " + f));
                c.extra().forEach(f -> out.println("  in the catalog, not in the manifest: " + f));
                c.duplicated().forEach(f -> out.println("  listed more than once: " + f));
                c.mismatched().forEach(f -> out.println("  size or row count differs: " + f));
            }
        } catch (IOException e) {
            throw new CommandException(ExitCodes.STORE, e.getMessage());
        }
        if (!consistent) {
            out.println("the catalog differs from the manifest: a running worker repairs it on its next maintenance "
                    + "pass, a stopped one when it starts");
        }
        return consistent ? ExitCodes.OK : ExitCodes.CHANGES_FOUND;
    }
}
