package dev.tally.worker.demo;

import dev.tally.store.UsageStore;
import dev.tally.store.meter.MeterQuery;
import dev.tally.store.meter.MeterResult;
import dev.tally.store.meter.MeterRow;
import dev.tally.store.meter.WindowSize;
import dev.tally.store.sql.OutputFormat;
import dev.tally.store.sql.SandboxOptions;
import dev.tally.store.sql.SqlSandbox;
import dev.tally.worker.query.QueryEngine;
import java.io.PrintWriter;
import java.math.BigDecimal;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.format.TextStyle;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * The demo's invoice-like summary: for each customer and calendar month (UTC), the calls, exact
 * input and output token totals and the cost per model from {@link PriceTable}; then two example
 * SQL queries in one customer's sandbox. Every number comes from the store's meter queries and
 * SQL sandbox, the same paths the {@code query} and {@code sql} commands use.
 */
public final class Invoices {
    /** The customer the SQL examples run for. */
    static final String SQL_TENANT = "acme-robotics";
    private static final DateTimeFormatter DAY = DateTimeFormatter.ofPattern("MMM d", Locale.ENGLISH);

    private Invoices() {
    }

    /** One invoice line: a model's usage in one month. */
    private static final class Line {
        long calls;
        BigDecimal input = BigDecimal.ZERO;
        BigDecimal output = BigDecimal.ZERO;
    }

    /** Prints the invoices of every demo customer over {@code [end - span, end)}. */
    public static void print(PrintWriter out, QueryEngine engine, Instant end, Duration span) {
        PriceTable prices = PriceTable.builtIn();
        Instant from = end.minus(span).truncatedTo(ChronoUnit.SECONDS);
        Instant to = end.plusSeconds(1);
        BigDecimal grand = BigDecimal.ZERO;
        for (String tenant : DemoWorkload.tenants()) {
            MeterResult in = engine.query(query("input_tokens", tenant, from, to));
            MeterResult outTokens = engine.query(query("output_tokens", tenant, from, to));
            // month start -> model -> line
            Map<OffsetDateTime, Map<String, Line>> months = new TreeMap<>();
            Map<OffsetDateTime, OffsetDateTime> monthEnds = new TreeMap<>();
            for (MeterRow r : in.rows()) {
                Line l = line(months, r);
                l.calls += r.events();
                l.input = l.input.add(nz(r.value()));
                monthEnds.put(r.windowStart(), r.windowEnd());
            }
            for (MeterRow r : outTokens.rows()) {
                line(months, r).output = line(months, r).output.add(nz(r.value()));
            }
            out.println();
            out.printf(Locale.ROOT, "  %s%n", tenant);
            for (Map.Entry<OffsetDateTime, Map<String, Line>> month : months.entrySet()) {
                OffsetDateTime start = month.getKey();
                OffsetDateTime stop = monthEnds.get(start);
                out.printf(Locale.ROOT, "    %s %d, usage %s to %s%n",
                        start.getMonth().getDisplayName(TextStyle.FULL, Locale.ENGLISH), start.getYear(),
                        DAY.format(start), DAY.format(stop.minusNanos(1)));
                out.printf(Locale.ROOT, "      %-12s %10s %16s %16s %12s%n", "model", "calls", "input tokens",
                        "output tokens", "amount");
                BigDecimal total = BigDecimal.ZERO;
                for (Map.Entry<String, Line> e : month.getValue().entrySet()) {
                    Line l = e.getValue();
                    BigDecimal cost = prices.has(e.getKey()) ? prices.cost(e.getKey(), l.input, l.output)
                            : BigDecimal.ZERO;
                    total = total.add(cost);
                    out.printf(Locale.ROOT, "      %-12s %,10d %,16d %,16d %12s%n", e.getKey(), l.calls,
                            l.input.toBigIntegerExact(), l.output.toBigIntegerExact(), money(cost));
                }
                out.printf(Locale.ROOT, "      %-12s %10s %16s %16s %12s%n", "total", "", "", "", money(total));
                grand = grand.add(total);
            }
        }
        out.println();
        out.printf(Locale.ROOT, "  all customers: %s (token totals are exact decimals from the meters; amounts "
                + "rounded to cents per line)%n", money(grand));
        out.flush();
    }

    private static MeterQuery query(String meter, String tenant, Instant from, Instant to) {
        return MeterQuery.builder(meter, tenant, from, to).window(WindowSize.MONTH, ZoneOffset.UTC).perSubject(false)
                .groupBy("model").build();
    }

    private static Line line(Map<OffsetDateTime, Map<String, Line>> months, MeterRow r) {
        return months.computeIfAbsent(r.windowStart(), k -> new TreeMap<>())
                .computeIfAbsent(String.valueOf(r.groups().get("model")), k -> new Line());
    }

    private static BigDecimal nz(BigDecimal v) {
        return v == null ? BigDecimal.ZERO : v;
    }

    private static String money(BigDecimal dollars) {
        return "$" + String.format(Locale.ROOT, "%,.2f", PriceTable.cents(dollars));
    }

    /** Two SQL examples in the sandbox of {@link #SQL_TENANT}, over its last seven days. */
    public static void printSqlExamples(PrintWriter out, UsageStore store, Instant end) {
        Instant from = end.minus(Duration.ofDays(7)).truncatedTo(ChronoUnit.DAYS);
        List<String[]> examples = List.of(
                new String[] {"Top five API keys by output tokens",
                        "SELECT subject AS api_key, count(*) AS calls,\n"
                                + "       sum(CAST(data->>'$.output_tokens' AS DECIMAL(38,0))) AS output_tokens\n"
                                + "FROM usage_events\n"
                                + "GROUP BY 1 ORDER BY output_tokens DESC LIMIT 5"},
                new String[] {"Latency and errors per model",
                        "SELECT data->>'$.model' AS model, count(*) AS calls,\n"
                                + "       quantile_disc(CAST(data->>'$.latency_ms' AS DECIMAL(18,1)), 0.95) AS p95_latency_ms,\n"
                                + "       round(100.0 * count(*) FILTER (WHERE data->>'$.status' = 'error') / count(*), 2)"
                                + " AS error_pct\n"
                                + "FROM usage_events\n"
                                + "GROUP BY 1 ORDER BY calls DESC"});
        try (SqlSandbox sandbox = SqlSandbox.open(store, SQL_TENANT,
                SandboxOptions.defaults().withRange(from, end.plusSeconds(1)))) {
            out.printf(Locale.ROOT, "  sandbox of tenant %s, events since %s (%,d events)%n", SQL_TENANT, from,
                    sandbox.events());
            for (String[] ex : examples) {
                out.println();
                out.println("  -- " + ex[0]);
                for (String l : ex[1].split("\n")) {
                    out.println("  " + l);
                }
                out.println();
                for (String l : sandbox.query(ex[1]).render(OutputFormat.TABLE).split("\n")) {
                    out.println("  " + l);
                }
            }
        }
        out.flush();
    }
}
