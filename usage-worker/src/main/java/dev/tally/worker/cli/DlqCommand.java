package dev.tally.worker.cli;

import dev.tally.store.RejectReason;
import dev.tally.store.dlq.DeadLetter;
import dev.tally.store.dlq.DeadLetterQueue;
import dev.tally.store.dlq.ReplayReport;
import dev.tally.worker.config.Setting;
import dev.tally.worker.config.WorkerConfig;
import dev.tally.worker.shard.OwnedTenantsStore;
import dev.tally.worker.http.Json;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** The dead-letter queue: list what could not be stored, and replay it. */
@Command(name = "dlq", mixinStandardHelpOptions = true,
        description = "Inspect and replay the dead-letter queue: input lines and events that could not be stored.",
        subcommands = {DlqCommand.ListCommand.class, DlqCommand.ReplayCommand.class},
        footer = ExitCodes.HELP)
public final class DlqCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        spec.commandLine().usage(spec.commandLine().getOut());
        return ExitCodes.USAGE;
    }

    /** Lists entries with their reasons; read-only, so it runs next to the daemon. */
    @Command(name = "list", mixinStandardHelpOptions = true,
            description = "List dead letters: counts by reason, then each entry (source, offset, reason, "
                    + "attempts, message, original line). Read-only: works while the daemon runs.",
            footer = ExitCodes.HELP)
    public static final class ListCommand implements Callable<Integer> {
        @Mixin
        CommonOptions common;

        @Option(names = "--dead", description = "List the entries given up on (dlq/dead/) instead of the queue.")
        boolean dead;

        @Option(names = "--limit", paramLabel = "N", defaultValue = "50",
                description = "Show at most N entries (default ${DEFAULT-VALUE}); 0 shows only the counts.")
        int limit;

        @Option(names = "--format", paramLabel = "FORMAT", defaultValue = "table",
                description = "table or json (one JSON object per entry, per line).")
        String format;

        @Spec
        CommandSpec spec;

        @Override
        public Integer call() {
            WorkerConfig config = common.loadQuiet();
            PrintWriter out = spec.commandLine().getOut();
            if (!format.equals("table") && !format.equals("json")) {
                throw new picocli.CommandLine.ParameterException(spec.commandLine(),
                        "--format must be table or json, not '" + format + "'");
            }
            if (!Files.isDirectory(config.dataDir().resolve(DeadLetterQueue.DLQ_DIR))) {
                if (format.equals("table")) {
                    out.println("no dead letters (" + config.dataDir().resolve(DeadLetterQueue.DLQ_DIR)
                            + " does not exist)");
                }
                return ExitCodes.OK;
            }
            DeadLetterQueue q = DeadLetterQueue.open(config.dataDir(), true, config.count(Setting.DLQ_MAX_ATTEMPTS));
            List<DeadLetter> entries = dead ? q.listDead() : q.list();
            if (format.equals("json")) {
                for (DeadLetter e : entries.subList(0, Math.min(entries.size(), limit < 0 ? 0 : limit))) {
                    out.println(Json.text(toJson(e)));
                }
                return ExitCodes.OK;
            }
            Map<RejectReason, Long> counts = new java.util.EnumMap<>(RejectReason.class);
            for (DeadLetter e : entries) {
                counts.merge(e.reason(), 1L, Long::sum);
            }
            out.printf(Locale.ROOT, "%s: %,d entr%s%n", dead ? "given up (dlq/dead)" : "dead-letter queue",
                    entries.size(), entries.size() == 1 ? "y" : "ies");
            counts.forEach((r, n) -> out.printf(Locale.ROOT, "  %-20s %,8d%n", r.code(), n));
            int shown = 0;
            for (DeadLetter e : entries) {
                if (shown++ >= limit) {
                    out.printf(Locale.ROOT, "... %,d more (use --limit)%n", entries.size() - limit);
                    break;
                }
                out.printf(Locale.ROOT, "%n%s @ %s  %s  (attempts %d, first %s)%n  %s%n  %s%n", e.source(),
                        e.offset() < 0 ? "-" : String.valueOf(e.offset()), e.reason().code(), e.attempts(),
                        e.firstSeen(), e.message(), preview(e));
            }
            if (!entries.isEmpty() && !dead) {
                out.println();
                out.println("fix the producer, then retry them with: usage-worker dlq replay --data-dir "
                        + config.dataDir());
            }
            return ExitCodes.OK;
        }

        private static String preview(DeadLetter e) {
            String text = e.text() != null ? e.text() : "base64:" + e.base64();
            String p = text.length() > 200 ? text.substring(0, 200) + "..." : text;
            return (e.truncated() ? "[truncated, " + e.length() + " bytes] " : "") + p.replace("\n", "\\n");
        }

        static Map<String, Object> toJson(DeadLetter e) {
            Map<String, Object> m = Json.object();
            m.put("source", e.source());
            m.put("offset", e.offset());
            m.put("reason", e.reason().code());
            m.put("message", e.message());
            if (e.text() != null) {
                m.put("text", e.text());
            } else {
                m.put("base64", e.base64());
            }
            m.put("length", e.length());
            m.put("truncated", e.truncated());
            m.put("attempts", e.attempts());
            m.put("first_seen", e.firstSeen().toString());
            m.put("last_attempt", e.lastAttempt().toString());
            return m;
        }
    }

    /** Tries every queued entry again. */
    @Command(name = "replay", mixinStandardHelpOptions = true,
            description = {"Try every queued dead letter again (after fixing its cause, e.g. a clock or a "
                    + "producer bug): stored ones leave the queue; ones still refused count an attempt, and move "
                    + "to dlq/dead/ after dlq.max-attempts.",
                    "Needs the store for writing: stop the daemon on this data directory first."},
            footer = ExitCodes.HELP)
    public static final class ReplayCommand implements Callable<Integer> {
        @Mixin
        CommonOptions common;

        @Spec
        CommandSpec spec;

        @Override
        public Integer call() {
            WorkerConfig config = common.load();
            PrintWriter out = spec.commandLine().getOut();
            Clock clock = Clock.systemUTC();
            return StoreCommands.withWritableStore(config, clock, "dlq replay", store -> {
                DeadLetterQueue q = DeadLetterQueue.open(config.dataDir(), false,
                        config.count(Setting.DLQ_MAX_ATTEMPTS));
                ReplayReport r = q.replay(OwnedTenantsStore.wrap(store, config.shards()), clock);
                List<String> parts = new ArrayList<>();
                parts.add(String.format(Locale.ROOT, "%,d stored", r.stored()));
                parts.add(String.format(Locale.ROOT, "%,d already stored", r.duplicates()));
                parts.add(String.format(Locale.ROOT, "%,d still refused", r.stillFailing()));
                parts.add(String.format(Locale.ROOT, "%,d given up (moved to dlq/dead/)", r.movedToDead()));
                out.printf(Locale.ROOT, "replayed %,d dead letter(s): %s; %,d left in the queue%n", r.attempted(),
                        String.join(", ", parts), q.size());
                return ExitCodes.OK;
            });
        }
    }
}
