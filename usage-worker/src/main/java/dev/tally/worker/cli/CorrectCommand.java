package dev.tally.worker.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.tally.store.EventCodec;
import dev.tally.store.EventRejectedException;
import dev.tally.store.UsageStore;
import dev.tally.store.correct.ClosedPeriod;
import dev.tally.store.correct.ClosedPeriodException;
import dev.tally.store.correct.Correction;
import dev.tally.store.correct.CorrectionCodec;
import dev.tally.store.correct.CorrectionRecord;
import dev.tally.store.correct.CorrectionRejection;
import dev.tally.store.correct.CorrectionResult;
import dev.tally.store.correct.ForcedCorrection;
import dev.tally.worker.config.WorkerConfig;
import dev.tally.worker.daemon.RuntimeFile;
import dev.tally.worker.daemon.StoreOpener;
import java.io.PrintWriter;
import java.time.Clock;
import java.time.DateTimeException;
import java.time.Instant;
import java.time.YearMonth;
import java.time.ZoneId;
import java.time.format.DateTimeParseException;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code usage-worker correct void|amend|list|close-period|report}: corrections of stored usage
 * (see docs/corrections.md). {@code void} and {@code amend} go through the running worker's API
 * when one runs on the data directory, otherwise open the store themselves; {@code close-period}
 * and {@code report} need the store (stop the worker first).
 */
@Command(name = "correct", mixinStandardHelpOptions = true,
        description = {"Corrections: void or amend stored events, list them, close invoiced periods.",
                "See docs/corrections.md."},
        subcommands = {CorrectCommand.VoidCommand.class, CorrectCommand.AmendCommand.class,
                CorrectCommand.ListCommand.class, CorrectCommand.ClosePeriodCommand.class,
                CorrectCommand.ReportCommand.class},
        footer = ExitCodes.HELP)
public final class CorrectCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        spec.commandLine().usage(spec.commandLine().getErr());
        return ExitCodes.USAGE;
    }

    /** Options every correction takes. */
    static final class Who {
        @Option(names = "--tenant", required = true, description = "Whose events.")
        String tenant;

        @Option(names = "--correction-id", description = "Idempotency key (unique per tenant); a resend is a no-op. "
                + "Default: a new random id.")
        String correctionId;

        @Option(names = "--actor", description = "Who asks (kept for the audit). Default: the user name.")
        String actor;

        @Option(names = "--reason", required = true, description = "Why (kept for the audit).")
        String reason;

        @Option(names = "--force", description = "Apply even to a closed period (listed in `correct report`).")
        boolean force;

        String id() {
            return correctionId != null ? correctionId : UUID.randomUUID().toString();
        }

        String actor() {
            return actor != null ? actor : System.getProperty("user.name", "");
        }
    }

    @Command(name = "void", mixinStandardHelpOptions = true,
            description = {"Void events by id (--id, repeatable), or every event of a time range (--from/--to, "
                    + "optionally --subject and --type)."}, footer = ExitCodes.HELP)
    public static final class VoidCommand implements Callable<Integer> {
        @Mixin
        CommonOptions common;

        @Mixin
        Who who;

        @Option(names = "--id", description = "An event id to void (repeatable).")
        List<String> ids;

        @Option(names = "--from", description = "Range void: first instant (inclusive), e.g. 2026-11-20T00:00:00Z.")
        String from;

        @Option(names = "--to", description = "Range void: end instant (exclusive).")
        String to;

        @Option(names = "--subject", description = "Range void: only this subject.")
        String subject;

        @Option(names = "--type", description = "Range void: only this event type.")
        String type;

        @Spec
        CommandSpec spec;

        @Override
        public Integer call() {
            Correction c;
            if (ids != null && !ids.isEmpty()) {
                if (from != null || to != null || subject != null || type != null) {
                    throw new CommandException(ExitCodes.USAGE, "give either --id or a range (--from, --to, --subject, "
                            + "--type), not both");
                }
                c = Correction.voidIds(who.id(), who.tenant, ids, who.actor(), who.reason);
            } else {
                if (from == null || to == null) {
                    throw new CommandException(ExitCodes.USAGE, "give --id (repeatable), or --from and --to for a range");
                }
                c = Correction.voidRange(who.id(), who.tenant, new Correction.Range(subject, type, instant("--from", from),
                        instant("--to", to)), who.actor(), who.reason);
            }
            return apply(common, spec, who.force ? c.forced() : c);
        }
    }

    @Command(name = "amend", mixinStandardHelpOptions = true,
            description = {"Replace one event's values: --event is the event as JSON with its tenant and id "
                    + "(its time may move within its UTC day)."}, footer = ExitCodes.HELP)
    public static final class AmendCommand implements Callable<Integer> {
        @Mixin
        CommonOptions common;

        @Mixin
        Who who;

        @Option(names = "--event", required = true, description = "The replacement event as one JSON object.")
        String event;

        @Spec
        CommandSpec spec;

        @Override
        public Integer call() {
            try {
                Correction c = Correction.amend(who.id(), EventCodec.parse(event), who.actor(), who.reason);
                if (!who.tenant.equals(c.tenant())) {
                    throw new CommandException(ExitCodes.USAGE, "--event is for tenant '" + c.tenant() + "', not --tenant '"
                            + who.tenant + "'");
                }
                return apply(common, spec, who.force ? c.forced() : c);
            } catch (EventRejectedException e) {
                throw new CommandException(ExitCodes.USAGE, "--event: " + e.getMessage());
            }
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "List a tenant's corrections, oldest first.",
            footer = ExitCodes.HELP)
    public static final class ListCommand implements Callable<Integer> {
        @Mixin
        CommonOptions common;

        @Option(names = "--tenant", required = true, description = "Whose corrections.")
        String tenant;

        @Spec
        CommandSpec spec;

        @Override
        public Integer call() {
            WorkerConfig config = common.loadQuiet();
            PrintWriter out = spec.commandLine().getOut();
            Optional<DaemonClient> daemon = DaemonClient.find(config.dataDir(), common.token(), "correct list");
            out.printf("%-6s %-28s %-11s %-27s %-16s %8s %-6s %s%n", "SEQ", "CORRECTION", "KIND", "AT", "ACTOR", "EVENTS",
                    "FORCED", "REASON");
            if (daemon.isPresent()) {
                JsonNode root = DaemonClient.json(daemon.get().get("/v1/corrections?tenant=" + tenant));
                for (JsonNode r : root.path("corrections")) {
                    out.printf("%-6d %-28s %-11s %-27s %-16s %8d %-6s %s%n", r.path("seq").asLong(),
                            r.path("correction_id").asText(), r.path("kind").asText(), r.path("at").asText(),
                            r.path("actor").asText(), r.path("events").asLong(), r.path("forced").asBoolean() ? "yes" : "",
                            r.path("reason").asText());
                }
                return ExitCodes.OK;
            }
            try (UsageStore store = config.storeBuilder(Clock.systemUTC()).readOnly(true).build()) {
                for (CorrectionRecord r : store.corrections(tenant)) {
                    out.printf("%-6d %-28s %-11s %-27s %-16s %8d %-6s %s%n", r.seq(), r.correctionId(), r.kind().code(),
                            r.at(), r.actor(), r.events(), r.forced() ? "yes" : "", r.reason());
                }
            }
            return ExitCodes.OK;
        }
    }

    @Command(name = "close-period", mixinStandardHelpOptions = true,
            description = "Close a tenant's month (after invoicing it): corrections touching it are refused unless "
                    + "forced.", footer = ExitCodes.HELP)
    public static final class ClosePeriodCommand implements Callable<Integer> {
        @Mixin
        CommonOptions common;

        @Option(names = "--tenant", required = true, description = "Whose period.")
        String tenant;

        @Option(names = "--month", required = true, description = "The month, e.g. 2026-11.")
        String month;

        @Option(names = "--tz", defaultValue = "UTC", description = "The tenant's time zone (default ${DEFAULT-VALUE}).")
        String zone;

        @Option(names = "--actor", description = "Who closes it. Default: the user name.")
        String actor;

        @Spec
        CommandSpec spec;

        @Override
        public Integer call() {
            YearMonth m;
            ZoneId z;
            try {
                m = YearMonth.parse(month);
                z = ZoneId.of(zone);
            } catch (DateTimeException e) {
                throw new CommandException(ExitCodes.USAGE, "--month " + month + " / --tz " + zone + ": " + e.getMessage());
            }
            try (UsageStore store = open(common, "correct close-period")) {
                ClosedPeriod p = store.closePeriod(tenant, m, z, actor != null ? actor : System.getProperty("user.name", ""));
                spec.commandLine().getOut().printf("closed %s: events from %s to %s (closed %s by %s)%n", p.label(),
                        p.start(), p.end(), p.closedAt(), p.actor());
            }
            return ExitCodes.OK;
        }
    }

    @Command(name = "report", mixinStandardHelpOptions = true,
            description = "Every forced correction of a tenant: what changed an invoiced period, by how much, who, why.",
            footer = ExitCodes.HELP)
    public static final class ReportCommand implements Callable<Integer> {
        @Mixin
        CommonOptions common;

        @Option(names = "--tenant", required = true, description = "Whose corrections.")
        String tenant;

        @Spec
        CommandSpec spec;

        @Override
        public Integer call() {
            WorkerConfig config = common.loadQuiet();
            if (RuntimeFile.running(config.dataDir()).isPresent()) {
                throw new CommandException(ExitCodes.STORE, "a worker is running on " + config.dataDir() + "; stop it to "
                        + "read the forced-corrections report");
            }
            PrintWriter out = spec.commandLine().getOut();
            try (UsageStore store = config.storeBuilder(Clock.systemUTC()).readOnly(true).build()) {
                List<ForcedCorrection> forced = store.forcedCorrections(tenant);
                for (ForcedCorrection f : forced) {
                    CorrectionRecord r = f.correction();
                    out.printf("%s %s %s by %s at %s: %s%n  periods %s; events %+d; sums %s%n", r.correctionId(),
                            r.kind().code(), tenant, r.actor(), r.at(), r.reason(), r.forcedPeriods(), f.eventsDelta(),
                            f.valueDeltas());
                }
                out.printf("%d forced correction(s) of tenant %s%n", forced.size(), tenant);
            }
            return ExitCodes.OK;
        }
    }

    private static UsageStore open(CommonOptions common, String command) {
        WorkerConfig config = common.load();
        if (RuntimeFile.running(config.dataDir()).isPresent()) {
            throw new CommandException(ExitCodes.STORE, "a worker is running on " + config.dataDir() + " and holds the "
                    + "store; stop it first for '" + command + "'");
        }
        return StoreOpener.openWritable(config, Clock.systemUTC(), command);
    }

    /** Applies {@code c} through the running worker or the store; prints the result. */
    static int apply(CommonOptions common, CommandSpec spec, Correction c) {
        WorkerConfig config = common.load();
        PrintWriter out = spec.commandLine().getOut();
        Optional<DaemonClient> daemon = DaemonClient.find(config.dataDir(), common.token(), "correct");
        if (daemon.isPresent()) {
            JsonNode r = DaemonClient.json(daemon.get().post("/v1/corrections", "application/json",
                    CorrectionCodec.toJson(c)));
            out.printf("correction %s: %d event(s)%s%n", r.path("correction_id").asText(), r.path("events").asLong(),
                    r.path("duplicate").asBoolean() ? " (already stored: nothing done again)" : "");
            for (JsonNode x : r.path("rejected")) {
                out.printf("  not corrected: %s: %s%n", x.path("reason").asText(), x.path("message").asText());
            }
            return ExitCodes.OK;
        }
        try (UsageStore store = StoreOpener.openWritable(config, Clock.systemUTC(), "correct")) {
            CorrectionResult r;
            try {
                r = store.correct(c);
            } catch (ClosedPeriodException e) {
                throw new CommandException(ExitCodes.CHANGES_FOUND, e.getMessage());
            } catch (IllegalArgumentException e) {
                throw new CommandException(ExitCodes.USAGE, e.getMessage());
            }
            out.printf("correction %s: %d event(s)%s%n", r.correctionId(), r.events(),
                    r.duplicate() ? " (already stored: nothing done again)" : "");
            if (!r.forcedPeriods().isEmpty()) {
                out.printf("  forced into closed period(s) %s%n", r.forcedPeriods());
            }
            for (CorrectionRejection x : r.rejected()) {
                out.printf("  not corrected: %s: %s%n", x.reason().code(), x.message());
            }
        }
        return ExitCodes.OK;
    }

    private static Instant instant(String option, String text) {
        try {
            return Instant.parse(text);
        } catch (DateTimeParseException e) {
            throw new CommandException(ExitCodes.USAGE, option + " " + text + " is not an instant like "
                    + "2026-11-20T00:00:00Z");
        }
    }
}
