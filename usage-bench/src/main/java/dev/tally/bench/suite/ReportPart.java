package dev.tally.bench.suite;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * What every part of the benchmark report shares: the results of one run (read-only) and the
 * Markdown being written, with the helpers that read a figure and write a line, row or table
 * header. {@link Report} is the first part; each section part is made from it and appends to the
 * same document.
 *
 * <p>Not thread-safe: one report is written by one thread.
 */
abstract class ReportPart {
    final Map<String, String> r;
    final StringBuilder md;
    final List<Long> sizes;
    final List<Long> durableSizes;
    final List<Integer> producers;

    ReportPart(Map<String, String> results) {
        this.r = results;
        this.md = new StringBuilder();
        this.sizes = new ArrayList<>();
        this.durableSizes = new ArrayList<>();
        this.producers = new ArrayList<>();
        for (String s : get("run.sizes", "").split("\\s+")) {
            if (!s.isEmpty()) {
                sizes.add(Long.parseLong(s));
            }
        }
        for (String s : get("run.durable_sizes", "").split("\\s+")) {
            if (!s.isEmpty()) {
                durableSizes.add(Long.parseLong(s));
            }
        }
        for (String s : get("run.producers", "").split("\\s+")) {
            if (!s.isEmpty()) {
                producers.add(Integer.parseInt(s));
            }
        }
    }


    /** A part that writes into the same document as {@code first}. */
    ReportPart(ReportPart first) {
        this.r = first.r;
        this.md = first.md;
        this.sizes = first.sizes;
        this.durableSizes = first.durableSizes;
        this.producers = first.producers;
    }

    String get(String key, String dflt) {
        return r.getOrDefault(key, dflt);
    }

    Double num(String key) {
        String v = r.get(key);
        if (v == null) {
            return null;
        }
        try {
            double d = Double.parseDouble(v);
            return Double.isNaN(d) ? null : d;
        } catch (NumberFormatException e) {
            return null;
        }
    }

    static Double div(Double a, Double b) {
        return a == null || b == null || b == 0 ? null : a / b;
    }

    void line(String s) {
        md.append(s).append('\n');
    }

    void row(Object... cells) {
        StringBuilder b = new StringBuilder("|");
        for (Object c : cells) {
            b.append(' ').append(c).append(" |");
        }
        line(b.toString());
    }

    void header(String... cells) {
        row((Object[]) cells);
        StringBuilder b = new StringBuilder("|");
        for (String c : cells) {
            b.append(c.startsWith("query") || c.startsWith("step") || c.startsWith("system") || c.startsWith("target")
                    || c.startsWith("phase") || c.startsWith("status") || c.startsWith("met") || c.startsWith("same")
                    || c.equals("figure") || c.equals("store layout")
                    ? "---|" : "---:|");
        }
        line(b.toString());
    }

    String status(String step) {
        String s = r.get("step." + step + ".status");
        return s == null ? "not run" : s;
    }

}
