package dev.tally.worker.cli;

import dev.tally.store.UsageStore;
import dev.tally.store.dlq.DeadLetterQueue;
import dev.tally.store.ingest.ImportHealth;
import dev.tally.store.ingest.ImportReport;
import dev.tally.store.ingest.Importer;
import dev.tally.store.journal.Journal;
import dev.tally.worker.config.Setting;
import dev.tally.worker.config.WorkerConfig;
import dev.tally.worker.shard.OwnedTenantsStore;
import dev.tally.worker.daemon.StoreOpener;
import java.io.PrintWriter;
import java.time.Clock;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** Imports everything pending from the journal and the spool folders once, then exits. */
@Command(name = "import", mixinStandardHelpOptions = true,
        description = {"Import everything pending from the journal and the spool folders (import.spool-dirs) "
                + "into the store, then exit.",
                "Needs the store for writing: it cannot run while 'run' is running on the same data directory "
                        + "(the daemon imports by itself)."},
        footer = ExitCodes.HELP)
public final class ImportCommand implements Callable<Integer> {
    @Mixin
    CommonOptions common;

    @Option(names = "--seal", description = "Also seal the active segment to Parquet afterwards.")
    boolean seal;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        WorkerConfig config = common.load();
        PrintWriter out = spec.commandLine().getOut();
        Clock clock = Clock.systemUTC();
        try (UsageStore store = StoreOpener.openWritable(config, clock, "import");
                Journal journal = Journal.open(config.journalConfig(clock))) {
            DeadLetterQueue dlq = DeadLetterQueue.open(config.dataDir(), false, config.count(Setting.DLQ_MAX_ATTEMPTS));
            Importer importer = new Importer(OwnedTenantsStore.wrap(store, config.shards()), config.dataDir(), config.paths(Setting.SPOOL_DIRS),
                    config.count(Setting.IMPORT_BATCH_SIZE), (int) config.size(Setting.IMPORT_MAX_LINE_BYTES), dlq,
                    clock);
            long records = 0;
            long stored = 0;
            long duplicates = 0;
            long dead = 0;
            long start = System.nanoTime();
            while (true) {
                ImportReport p = importer.runOnce();
                records += p.records();
                stored += p.stored();
                duplicates += p.duplicates();
                dead += p.deadLettered();
                p.errors().forEach(e -> out.println("warning: " + e));
                if (!p.didWork()) {
                    break;
                }
            }
            importer.reap(journal);
            if (seal) {
                store.sealNow();
            }
            ImportHealth h = importer.health();
            out.printf(Locale.ROOT, "imported %,d record(s) in %.1f s: %,d stored, %,d duplicate(s), %,d dead-lettered"
                    + "%s%n", records, (System.nanoTime() - start) / 1e9, stored, duplicates, dead,
                    seal ? "; sealed" : "");
            if (h.lagBytes() > 0) {
                out.printf(Locale.ROOT, "%,d byte(s) still pending (an incomplete last line is imported once it is "
                        + "complete)%n", h.lagBytes());
            }
            if (dead > 0) {
                out.println("see them with: usage-worker dlq list --data-dir " + config.dataDir());
            }
        }
        return ExitCodes.OK;
    }
}
