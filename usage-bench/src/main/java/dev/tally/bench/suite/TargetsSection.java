package dev.tally.bench.suite;

import static dev.tally.bench.suite.Fmt.events;
import static dev.tally.bench.suite.Fmt.ms;
import static dev.tally.bench.suite.Fmt.pct;
import static dev.tally.bench.suite.Fmt.rate;
import static dev.tally.bench.suite.Fmt.x;

import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;

/**
 * The report's targets: whether this run met each one, from its figures, and the "Targets" table
 * that links each to its section.
 *
 * <p>Not thread-safe: one report is written by one thread.
 */
final class TargetsSection extends ReportPart {
    private final List<String[]> targets = new ArrayList<>();

    private final ScaleSection scale;

    TargetsSection(ReportPart first) {
        super(first);
        this.scale = new ScaleSection(first);
    }

    void evaluateTargets(long largest) {
        // 1. store ingest >= 50% of the raw appender
        StringBuilder f = new StringBuilder();
        Boolean met = null;
        for (long n : sizes) {
            Double ratio = div(num("ingest.store." + n + ".events_per_s"), num("ingest.raw." + n + ".events_per_s"));
            if (ratio != null) {
                f.append(f.length() == 0 ? "" : "; ").append(events(n)).append(": ").append(pct(ratio));
                met = (met == null || met) && ratio >= 0.5;
            }
        }
        target("Store ingest ≥ 50% of the raw appender", f, met, "ingest");

        // 2. durable ingest >= 3x PostgreSQL
        f = new StringBuilder();
        met = null;
        for (long n : durableSizes) {
            for (int p : producers) {
                Double ratio = div(num("durable.store." + n + "." + p + ".events_per_s"),
                        num("durable.pg." + n + "." + p + ".events_per_s"));
                if (ratio != null) {
                    f.append(f.length() == 0 ? "" : "; ").append(events(n)).append(" × ").append(p).append(": ")
                            .append(x(ratio));
                    met = (met == null || met) && ratio >= 3;
                }
            }
        }
        target("Durable ingest ≥ 3× PostgreSQL COPY with primary key", f, met, "durable");

        // 3. billing queries >= 10x faster than PostgreSQL at 10M
        long at = sizes.contains(10_000_000L) ? 10_000_000L : largest;
        f = new StringBuilder();
        boolean anyMissing = false;
        boolean anyBelow = false;
        for (Billing.Query q : Billing.Query.values()) {
            Double ratio = div(num("query.pg." + at + "." + q.key + ".p50_ms"), num("query.store." + at + "." + q.key + ".p50_ms"));
            f.append(f.length() == 0 ? "" : "; ").append(q.key).append(": ").append(ratio == null ? "—" : x(ratio));
            anyMissing |= ratio == null;
            anyBelow |= ratio != null && ratio < 10;
        }
        if (at != 10_000_000L) {
            f.append(" (at ").append(events(at)).append(": this run did not include 10M)");
        }
        met = anyBelow ? Boolean.FALSE : anyMissing || at != 10_000_000L ? null : Boolean.TRUE;
        target("Billing queries ≥ 10× faster than PostgreSQL at 10M (p50)", f, met, "queries");

        // 4. monthly total p99 < 50 ms at 100M (from every system's run at 100M, or Tally's grown store)
        Double p99 = num("query.store.100000000.monthly_total.p99_ms");
        Double grownP99 = num(ScaleSection.P + "query.monthly.p99_ms");
        boolean grown100 = scale.stored() >= 100_000_000L;
        if (p99 != null) {
            target("Monthly per-subject total p99 < 50 ms at 100M stored",
                    new StringBuilder(ms(p99) + " ms"), p99 < 50, "queries");
        } else if (grown100 && grownP99 != null) {
            target("Monthly per-subject total p99 < 50 ms at 100M stored",
                    new StringBuilder(ms(grownP99) + " ms (Tally alone, compacted)"), grownP99 < 50, SCALE);
        } else {
            Double proxy = num("query.store." + largest + ".monthly_total.p99_ms");
            target("Monthly per-subject total p99 < 50 ms at 100M stored",
                    new StringBuilder("not measured: 100M needs `--with-100m` or `--tally-100m`; at " + events(largest) + ": "
                            + ms(proxy) + " ms"), null, "queries");
        }

        // 5. ingest at 100M >= 80% of ingest at 1M
        long growthRun = largest;
        Double first = growthRate(growthRun, true);
        Double last = growthRate(growthRun, false);
        Double ratio = div(last, first);
        String what = "rate of the last " + events(Suite.chunk(growthRun)) + " appended up to " + events(growthRun)
                + " stored: " + rate(last) + " events/s; of the first " + events(Suite.chunk(growthRun))
                + (growthRun > 1_000_000 ? " after 1M stored" : "") + ": " + rate(first) + " events/s; "
                + pct(ratio);
        Double grownRatio = num(ScaleSection.P + "growth.rate_ratio_last_vs_1m");
        if (growthRun >= 100_000_000L) {
            target("Ingest at 100M stored ≥ 80% of ingest at 1M", new StringBuilder(what),
                    ratio == null ? null : ratio >= 0.8, "growth");
        } else if (grown100 && grownRatio != null) {
            target("Ingest at 100M stored ≥ 80% of ingest at 1M", new StringBuilder(pct(grownRatio)
                    + " (Tally alone: median of the last five 1M chunks against chunks 2–6)"), grownRatio >= 0.8, SCALE);
        } else {
            target("Ingest at 100M stored ≥ 80% of ingest at 1M",
                    new StringBuilder("not measured: 100M needs `--with-100m` or `--tally-100m`; the same ratio up to " + events(growthRun)
                            + ": " + what), null, "growth");
        }
        scaleTargets();
    }

    /** Targets of one store grown to 100M (the scale section), when this run grew one. */
    private void scaleTargets() {
        if (scale.stored() < 100_000_000L) {
            return;
        }
        Double reopen = num(ScaleSection.P + "reopen.seconds");
        target("Reopen with 100M stored < 15 s", new StringBuilder(reopen == null ? "" : ms(reopen * 1000) + " ms"),
                reopen == null ? null : reopen < 15, SCALE);
        Double p99 = num(ScaleSection.P + "query.monthly.p99_ms");
        Double p50 = num(ScaleSection.P + "query.monthly.p50_ms");
        target("Monthly per-subject total p99 ≤ 10 ms at 100M stored (compacted)", new StringBuilder(p99 == null ? ""
                : "p50 " + ms(p50) + " ms, p99 " + ms(p99) + " ms"), p99 == null ? null : p99 <= 10, SCALE);
    }

    /** The link text of the scale section ({@link #anchor}). */
    private static final String SCALE = "100M";

    /** The store's rate in the first chunk after 1M stored (or the first chunk), or in the last chunk. */
    Double growthRate(long run, boolean first) {
        TreeSet<Long> at = new TreeSet<>();
        String prefix = "growth.store." + run + ".rate_at.";
        for (String k : r.keySet()) {
            if (k.startsWith(prefix)) {
                at.add(Long.parseLong(k.substring(prefix.length())));
            }
        }
        if (at.isEmpty()) {
            return null;
        }
        if (!first) {
            return num(prefix + at.last());
        }
        Long after = at.higher(Math.min(1_000_000L, run - 1));
        Long k = run > 1_000_000 && after != null ? after : at.first();
        return num(prefix + k);
    }

    void target(String name, StringBuilder figure, Boolean met, String section) {
        targets.add(new String[] {name, figure.length() == 0 ? "—" : figure.toString(),
            met == null ? "not measured" : met ? "**met**" : "**missed**", section});
    }

    void targets() {
        line("## Targets");
        line("");
        header("target", "figure in this run", "met", "details");
        for (String[] t : targets) {
            row(t[0], t[1], t[2], "[" + t[3] + "](#" + anchor(t[3]) + ")");
        }
        line("");
        line("Where a target is missed, [Where the time goes](#where-the-time-goes) shows the profile of the step "
                + "(JFR execution and native-method samples), and the PostgreSQL plans are in the "
                + "[appendix](#appendix-postgresql-plans).");
        line("");
    }

    static String anchor(String section) {
        return switch (section) {
            case "ingest" -> "1-ingest";
            case "durable" -> "2-durable-ingest";
            case "queries" -> "3-billing-queries";
            case "growth" -> "4-growth";
            case "100M" -> "6-100m-stored-one-store-grown-by-tally-alone";
            default -> section;
        };
    }

}
