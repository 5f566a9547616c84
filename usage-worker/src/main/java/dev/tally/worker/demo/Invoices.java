package dev.tally.worker.demo;

import dev.tally.store.UsageStore;
import dev.tally.worker.config.WorkerConfig;
import java.io.PrintWriter;
import java.time.Duration;
import java.time.Instant;

/** The demo's invoice-like summary per customer, and its example SQL queries. */
public final class Invoices {
    private Invoices() {
    }

    public static void print(PrintWriter out, UsageStore store, WorkerConfig config, Instant end, Duration span) {
        out.println("  (meter queries are not available in this build yet)");
    }

    public static void printSqlExamples(PrintWriter out, UsageStore store, WorkerConfig config, Instant end) {
        out.println("  (SQL is not available in this build yet)");
    }
}
