package dev.tally.bench.suite;

import java.math.BigDecimal;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Arrays;
import java.util.List;

/**
 * The four billing queries, asked the same way of every system: each run picks another subject or
 * tenant (so no run is answered by the previous run's cache), over the workload's 30 days.
 * Each answer is reduced to a fingerprint (rows and an exact number) that must be equal across
 * systems; the report says whether it is.
 */
final class Billing {
    private Billing() {
    }

    enum Query {
        /** Count and sum of input tokens of one subject over the month. */
        MONTHLY_TOTAL("monthly_total", "monthly total of one subject (SUM input_tokens)"),
        /** One tenant's input tokens per UTC day and model over the month. */
        DAILY_BY_MODEL("daily_by_model", "daily windows of one tenant grouped by model (SUM input_tokens)"),
        /** Distinct end users per subject of one tenant over the month. */
        UNIQUE_USERS("unique_users", "UNIQUE_COUNT of users per subject of one tenant"),
        /** 95th percentile latency per model of one tenant over the month. */
        P95_LATENCY("p95_latency", "P95 of latency_ms per model of one tenant");

        final String key;
        final String title;

        Query(String key, String title) {
            this.key = key;
            this.title = title;
        }
    }

    /** What one run asks: a tenant, a subject (for the per-subject query), and the month. */
    record Params(String tenant, String subject, Instant from, Instant to) {
    }

    /**
     * What a run answered: result rows, the events they cover, and one exact number (the sum of
     * the values for sums and unique counts; zero for percentiles, whose definitions differ by one
     * rank between DuckDB's quantile_disc and PostgreSQL's percentile_disc).
     */
    record Answer(long rows, long events, BigDecimal value) {
    }

    /** One system's way of answering. */
    interface Side {
        /** Whether this side can answer {@code q} (otherwise the report says why not). */
        default String unsupported(Query q) {
            return null;
        }

        Answer run(Query q, Params p) throws Exception;
    }

    static Params params(Query q, int run, Instant end, int tenants, int subjects) {
        Instant to = end.truncatedTo(ChronoUnit.HOURS).plus(Duration.ofHours(1));
        Instant from = to.minus(Duration.ofDays(30)).minus(Duration.ofHours(1));
        int subject = (int) ((run * 7_919L + 13) % subjects);
        int tenant = q == Query.MONTHLY_TOTAL ? subject % tenants : run % tenants;
        return new Params("tenant-" + tenant, "key-" + subject, from, to);
    }

    /**
     * Runs every query {@code warmup + runs} times on {@code side} and records p50, p99, mean
     * (ms) and the fingerprint of the timed runs under {@code prefix.<query>.}.
     */
    static void measure(Results out, String prefix, Side side, int runs, int warmup, Instant end, int tenants,
            int subjects) {
        for (Query q : Query.values()) {
            String k = prefix + "." + q.key + ".";
            String why = side.unsupported(q);
            if (why != null) {
                out.put(k + "status", "not run: " + why);
                continue;
            }
            try {
                for (int i = 0; i < warmup; i++) {
                    side.run(q, params(q, runs + i, end, tenants, subjects));
                }
                long[] nanos = new long[runs];
                long rows = 0;
                long events = 0;
                BigDecimal value = BigDecimal.ZERO;
                for (int i = 0; i < runs; i++) {
                    Params p = params(q, i, end, tenants, subjects);
                    long t0 = System.nanoTime();
                    Answer a = side.run(q, p);
                    nanos[i] = System.nanoTime() - t0;
                    rows += a.rows();
                    events += a.events();
                    value = value.add(a.value());
                }
                long[] s = Sys.sorted(nanos);
                out.put(k + "runs", runs);
                out.put(k + "p50_ms", Sys.percentile(s, 0.5) / 1e6);
                out.put(k + "p99_ms", Sys.percentile(s, 0.99) / 1e6);
                out.put(k + "mean_ms", Arrays.stream(nanos).average().orElse(0) / 1e6);
                out.put(k + "check", "rows " + rows + ", events " + events + ", value "
                        + value.stripTrailingZeros().toPlainString());
                out.put(k + "status", "ok");
            } catch (Exception | AssertionError e) {
                out.put(k + "status", "failed: " + e);
                e.printStackTrace();
            }
        }
    }

    static List<Query> all() {
        return List.of(Query.values());
    }
}
