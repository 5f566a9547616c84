package dev.tally.worker.cli;

import dev.tally.store.UsageStore;
import dev.tally.store.sql.SqlResult;
import dev.tally.worker.config.WorkerConfig;
import dev.tally.worker.query.QueryEngine;
import dev.tally.worker.query.QueryParams;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** One sandboxed SELECT over a tenant's events, across every tier. */
@Command(name = "sql", mixinStandardHelpOptions = true,
        description = {"Run one read-only SELECT over a tenant's usage in a sandbox (no files, no settings, no "
                + "writes; 30 s and 10,000 rows at most).",
                "Tables: usage_events(tenant, id, type, subject, source, time, data) with data a JSON text "
                        + "(use json_extract_string(data, '$.model') etc.), and usage_rollups_hourly(tenant, type, "
                        + "subject, hour, property, value_count, value_sum, value_min, value_max).",
                "Read-only: while a worker runs on the data directory, it is asked through its HTTP API.",
                "Example: usage-worker sql --tenant acme \"SELECT subject, count(*) AS calls FROM usage_events "
                        + "GROUP BY 1 ORDER BY 2 DESC LIMIT 5\""},
        footer = ExitCodes.HELP)
public final class SqlCommand implements Callable<Integer> {
    @Mixin
    CommonOptions common;

    @Parameters(index = "0", paramLabel = "SQL", description = "The SELECT statement, or - to read it from standard input.")
    String statement;

    @Option(names = "--tenant", paramLabel = "TENANT", required = true, description = "Whose events to query.")
    String tenant;

    @Option(names = "--from", paramLabel = "TIME", description = "Only events at or after this time (UTC if no offset).")
    String from;

    @Option(names = "--to", paramLabel = "TIME", description = "Only events before this time (UTC if no offset).")
    String to;

    @Option(names = "--format", paramLabel = "FORMAT", defaultValue = "table",
            description = "table, csv or json (default ${DEFAULT-VALUE}).")
    String format;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        WorkerConfig config = common.loadQuiet();
        PrintWriter out = spec.commandLine().getOut();
        QueryParams.Format fmt = QueryCommand.CliQueries.format(format);
        String sql = statement.equals("-") ? new String(System.in.readAllBytes(), StandardCharsets.UTF_8) : statement;
        Optional<DaemonClient> daemon = DaemonClient.forTenant(config, tenant, common.token(), "sql");
        if (daemon.isPresent()) {
            Map<String, List<String>> p = new LinkedHashMap<>();
            p.put("tenant", List.of(tenant));
            p.put("format", List.of(fmt.name().toLowerCase(java.util.Locale.ROOT)));
            if (from != null) {
                p.put("from", List.of(from));
            }
            if (to != null) {
                p.put("to", List.of(to));
            }
            out.print(new String(daemon.get().post("/v1/sql?" + QueryCommand.CliQueries.encode(p),
                    "text/plain; charset=utf-8", sql).body(), StandardCharsets.UTF_8));
            return ExitCodes.OK;
        }
        try (UsageStore store = QueryCommand.CliQueries.openReadOnly(config);
                QueryEngine engine = new QueryEngine(store, config)) {
            Instant a = from == null ? null : QueryParams.time("from", from, ZoneOffset.UTC);
            Instant b = to == null ? null : QueryParams.time("to", to, ZoneOffset.UTC);
            SqlResult r = engine.sql(tenant, sql, a, b);
            String text = r.render(QueryEngine.outputFormat(fmt));
            out.print(text.endsWith("\n") ? text : text + "\n");
        } catch (RuntimeException e) {
            throw QueryCommand.CliQueries.failure(e);
        }
        return ExitCodes.OK;
    }
}
