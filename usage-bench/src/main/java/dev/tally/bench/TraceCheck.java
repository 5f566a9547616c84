package dev.tally.bench;

import dev.tally.store.EventCodec;
import dev.tally.store.Totals;
import dev.tally.store.UsageEvent;
import dev.tally.store.UsageStore;
import dev.tally.store.dlq.DeadLetterQueue;
import dev.tally.store.ingest.ImportReport;
import dev.tally.store.ingest.SpoolDirectory;
import dev.tally.store.ingest.SpoolImporter;
import dev.tally.store.ingest.SpoolScanner;
import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Locale;

/**
 * Checks Tally against usage data nobody here wrote: a CSV trace of LLM requests
 * ({@code TIMESTAMP,ContextTokens,GeneratedTokens}, one row per request). Each CSV becomes one
 * subject; its rows are written as NDJSON spool files (plus every 50th row again, as a producer
 * retry would), imported through the spool importer, sealed, and the store's counts and token
 * sums are compared with DuckDB SQL run directly on the CSV.
 *
 * <pre>usage: TraceCheck CSV [CSV ...]</pre>
 *
 * Exits non-zero if any figure differs.
 */
public final class TraceCheck {
    private static final DateTimeFormatter CSV_TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss[.SSSSSSS]");

    public static void main(String[] args) throws Exception {
        if (args.length == 0) {
            System.err.println("usage: TraceCheck CSV [CSV ...]");
            System.exit(2);
        }
        Path work = Files.createTempDirectory("tally-trace-check");
        Path spool = Files.createDirectories(work.resolve("spool"));
        Path data = work.resolve("store");
        Instant newest = Instant.MIN;
        long written = 0;
        for (String csv : args) {
            String subject = subjectOf(Path.of(csv));
            try (BufferedReader in = Files.newBufferedReader(Path.of(csv), StandardCharsets.UTF_8);
                    BufferedWriter out = Files.newBufferedWriter(spool.resolve(subject + ".jsonl"), StandardCharsets.UTF_8)) {
                String header = in.readLine();
                if (!header.startsWith("TIMESTAMP,ContextTokens,GeneratedTokens")) {
                    throw new IllegalArgumentException(csv + ": unexpected header " + header);
                }
                String line;
                long row = 0;
                while ((line = in.readLine()) != null) {
                    String[] f = line.split(",");
                    Instant t = LocalDateTime.parse(f[0], CSV_TIME).toInstant(ZoneOffset.UTC);
                    newest = t.isAfter(newest) ? t : newest;
                    UsageEvent e = new UsageEvent("azure", subject + "-" + row, "llm.request", subject, "trace", t,
                            "{\"input_tokens\":" + f[1] + ",\"output_tokens\":" + f[2] + "}");
                    out.write(EventCodec.toJson(e));
                    out.write('\n');
                    if (row % 50 == 0) { // a producer retry: the same event again
                        out.write(EventCodec.toJson(e));
                        out.write('\n');
                    }
                    row++;
                    written++;
                }
            }
        }
        // The trace is from the past: run the store's clock just after its newest event.
        Clock clock = Clock.fixed(newest.plusSeconds(60), ZoneOffset.UTC);
        boolean ok = true;
        try (UsageStore store = UsageStore.builder(data).clock(clock).build()) {
            DeadLetterQueue dlq = DeadLetterQueue.open(data, false);
            SpoolScanner scanner = SpoolScanner.create(data, List.of(new SpoolDirectory("trace", spool)), false);
            ImportReport r = new SpoolImporter(scanner, dlq, store, clock, 10_000).runOnce();
            System.out.printf(Locale.ROOT, "imported %,d lines: %,d stored, %,d duplicates, %,d dead letters%n",
                    r.records(), r.stored(), r.duplicates(), r.deadLettered());
            ok &= r.stored() == written && r.deadLettered() == 0;
            store.sealNow();
            try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement s = c.createStatement()) {
                for (String csv : args) {
                    String subject = subjectOf(Path.of(csv));
                    try (ResultSet rs = s.executeQuery("SELECT count(*), sum(ContextTokens), sum(GeneratedTokens) "
                            + "FROM read_csv('" + csv.replace("'", "''") + "', header = true)")) {
                        rs.next();
                        Instant from = newest.minus(Duration.ofDays(30));
                        Instant to = clock.instant();
                        Totals in = store.total("azure", "llm.request", subject, "$.input_tokens", from, to);
                        Totals outT = store.total("azure", "llm.request", subject, "$.output_tokens", from, to);
                        boolean same = in.events() == rs.getLong(1)
                                && in.sum().compareTo(new BigDecimal(rs.getLong(2))) == 0
                                && outT.sum().compareTo(new BigDecimal(rs.getLong(3))) == 0;
                        ok &= same;
                        System.out.printf(Locale.ROOT, "%-5s %s  CSV: %,d requests, %,d input, %,d output tokens | "
                                + "Tally: %,d requests, %s input, %s output tokens%n", subject, same ? "OK  " : "DIFF",
                                rs.getLong(1), rs.getLong(2), rs.getLong(3), in.events(),
                                in.sum().stripTrailingZeros().toPlainString(),
                                outT.sum().stripTrailingZeros().toPlainString());
                    }
                }
            }
        }
        System.out.println(ok ? "trace check passed" : "trace check FAILED");
        System.exit(ok ? 0 : 1);
    }

    private static String subjectOf(Path csv) {
        String name = csv.getFileName().toString().replaceFirst("\\.csv$", "");
        int us = name.lastIndexOf('_');
        return (us >= 0 ? name.substring(us + 1) : name).toLowerCase(Locale.ROOT);
    }
}
