package dev.tally.worker.demo;

import dev.tally.store.UsageStore;
import java.io.PrintWriter;
import java.time.Duration;
import java.time.Instant;

/** Placeholder until meters land. */
public final class Invoices {
    private Invoices() {
    }

    public static void print(PrintWriter out, Object engine, Instant end, Duration span) {
    }

    public static void printSqlExamples(PrintWriter out, UsageStore store, Instant end) {
    }
}
