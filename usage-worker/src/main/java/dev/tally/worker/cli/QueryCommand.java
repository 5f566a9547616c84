package dev.tally.worker.cli;

import dev.tally.store.UsageStore;
import dev.tally.store.meter.MeterDefinition;
import dev.tally.store.meter.MeterResult;
import dev.tally.worker.config.Setting;
import dev.tally.worker.config.WorkerConfig;
import dev.tally.worker.query.MeterResultFormat;
import dev.tally.worker.query.QueryEngine;
import dev.tally.worker.query.QueryErrors;
import dev.tally.worker.query.QueryParams;
import java.io.PrintWriter;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** A meter query: exact values per window, subject and group. */
@Command(name = "query", mixinStandardHelpOptions = true,
        description = {"Query a meter: its exact value per window, subject and group for one tenant.",
                "Meters come from meters.file, or the built-in ones: requests (COUNT), input_tokens and "
                        + "output_tokens (SUM), latency_p95 (P95 of latency_ms); each can be split by model, "
                        + "region and status. --list shows them.",
                "Read-only: while a worker runs on the data directory, it is asked through its HTTP API.",
                "Example: usage-worker query --meter input_tokens --tenant acme --from 2026-11-01 --to 2026-12-01 "
                        + "--window day --tz Europe/Berlin --group-by model"},
        footer = ExitCodes.HELP)
public final class QueryCommand implements Callable<Integer> {
    @Mixin
    CommonOptions common;

    @Option(names = "--meter", paramLabel = "NAME", description = "The meter to query (see --list).")
    String meter;

    @Option(names = "--list", description = "List the meters and their dimensions, then exit.")
    boolean list;

    @Option(names = "--tenant", paramLabel = "TENANT", description = "The tenant (required).")
    String tenant;

    @Option(names = "--from", paramLabel = "TIME",
            description = "Start, inclusive: 2026-11-01, 2026-11-01T08:00 (both in --tz), 2026-11-01T08:00:00Z or "
                    + "with an offset. Default: 30 days before --to.")
    String from;

    @Option(names = "--to", paramLabel = "TIME", description = "End, exclusive; same forms. Default: now.")
    String to;

    @Option(names = "--window", paramLabel = "SIZE",
            description = "none (one value for the range), minute, hour, day or month. Default: none.")
    String window;

    @Option(names = "--tz", paramLabel = "ZONE",
            description = "IANA time zone for windows and local times, e.g. Europe/Berlin. Default: UTC.")
    String tz;

    @Option(names = "--subject", paramLabel = "SUBJECT", split = ",",
            description = "Only these subjects (repeat or separate with commas). Default: all.")
    List<String> subjects = new ArrayList<>();

    @Option(names = "--group-by", paramLabel = "DIM", split = ",",
            description = "Split by these dimensions of the meter (repeat or separate with commas).")
    List<String> groupBy = new ArrayList<>();

    @Option(names = "--filter", paramLabel = "DIM=VALUES",
            description = "Keep events whose dimension has one of the values, e.g. model=atlas-mini,atlas-large "
                    + "(repeatable).")
    List<String> filters = new ArrayList<>();

    @Option(names = "--sum-subjects", description = "Add the subjects together instead of one row per subject.")
    boolean sumSubjects;

    @Option(names = "--format", paramLabel = "FORMAT", defaultValue = "table",
            description = "table, csv or json (default ${DEFAULT-VALUE}).")
    String format;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        WorkerConfig config = common.loadQuiet();
        PrintWriter out = spec.commandLine().getOut();
        QueryParams.Format fmt = CliQueries.format(format);
        if (list) {
            for (MeterDefinition m : QueryEngine.registry(config.path(Setting.METERS_FILE)).all()) {
                out.printf("%-16s %-12s %-18s %s%s%n", m.name(), m.aggregation(),
                        m.valueProperty() == null ? "(events)" : m.valueProperty(), "type " + m.eventType(),
                        m.groupBy().isEmpty() ? "" : "; group-by: " + String.join(", ", m.groupBy().keySet()));
            }
            return ExitCodes.OK;
        }
        if (meter == null) {
            throw new CommandException(ExitCodes.USAGE, "--meter is required; the meters are: " + String.join(", ",
                    QueryEngine.registry(config.path(Setting.METERS_FILE)).all().stream().map(MeterDefinition::name)
                            .toList()));
        }
        Map<String, List<String>> params = params();
        Optional<DaemonClient> daemon = DaemonClient.forTenant(config, tenant, common.token(), "query");
        if (daemon.isPresent()) {
            params.put("format", List.of(fmt.name().toLowerCase(java.util.Locale.ROOT)));
            out.print(new String(daemon.get().get("/v1/meters/" + URLEncoder.encode(meter, StandardCharsets.UTF_8)
                    + "/query?" + CliQueries.encode(params)).body(), StandardCharsets.UTF_8));
            return ExitCodes.OK;
        }
        try (UsageStore store = CliQueries.openReadOnly(config);
                QueryEngine engine = new QueryEngine(store, config)) {
            MeterResult r = engine.query(meter, params, Clock.systemUTC().instant());
            out.print(MeterResultFormat.render(r, fmt));
        } catch (RuntimeException e) {
            throw CliQueries.failure(e);
        }
        return ExitCodes.OK;
    }

    private Map<String, List<String>> params() {
        Map<String, List<String>> p = new LinkedHashMap<>();
        put(p, "tenant", tenant);
        put(p, "from", from);
        put(p, "to", to);
        put(p, "window", window);
        put(p, "tz", tz);
        if (!subjects.isEmpty()) {
            p.put("subject", subjects);
        }
        if (!groupBy.isEmpty()) {
            p.put("group-by", groupBy);
        }
        if (!filters.isEmpty()) {
            p.put("filter", filters);
        }
        if (sumSubjects) {
            p.put("sum-subjects", List.of("true"));
        }
        return p;
    }

    private static void put(Map<String, List<String>> p, String k, String v) {
        if (v != null) {
            p.put(k, List.of(v));
        }
    }

    /** Helpers shared by the query and sql commands. */
    static final class CliQueries {
        private CliQueries() {
        }

        static QueryParams.Format format(String text) {
            try {
                return QueryParams.format(text, QueryParams.Format.TABLE);
            } catch (IllegalArgumentException e) {
                throw new CommandException(ExitCodes.USAGE, e.getMessage());
            }
        }

        static UsageStore openReadOnly(WorkerConfig config) {
            return config.storeBuilder(Clock.systemUTC()).readOnly(true).build();
        }

        /** A failed query as a command failure: exit 2 for the caller's mistakes, else 4. */
        static RuntimeException failure(RuntimeException e) {
            if (e instanceof CommandException || e instanceof dev.tally.worker.config.ConfigException) {
                return e;
            }
            return new CommandException(QueryErrors.isCallerMistake(e) ? ExitCodes.USAGE : ExitCodes.STORE,
                    e.getMessage());
        }

        static String encode(Map<String, List<String>> params) {
            List<String> parts = new ArrayList<>();
            params.forEach((k, vs) -> vs.forEach(v -> parts.add(URLEncoder.encode(k, StandardCharsets.UTF_8) + "="
                    + URLEncoder.encode(v, StandardCharsets.UTF_8))));
            return String.join("&", parts);
        }
    }
}
