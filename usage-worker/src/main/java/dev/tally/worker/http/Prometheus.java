package dev.tally.worker.http;

import java.util.LinkedHashSet;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Writes metrics in the Prometheus text exposition format 0.0.4: a {@code # HELP} and a
 * {@code # TYPE} line per metric family, then its samples, label values escaped. Families must be
 * written whole, one after another; a family is written at most once.
 *
 * <p>Not thread-safe: one writer per scrape.
 */
public final class Prometheus {
    /** The media type of the format. */
    public static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

    private final StringBuilder out = new StringBuilder(8192);
    private final Set<String> families = new LinkedHashSet<>();

    /** Starts a counter family; its name must end in {@code _total}. */
    public Prometheus counter(String name, String help) {
        if (!name.endsWith("_total")) {
            throw new IllegalArgumentException("counter " + name + " must end in _total");
        }
        return family(name, help, "counter");
    }

    /** Starts a gauge family. */
    public Prometheus gauge(String name, String help) {
        return family(name, help, "gauge");
    }

    private Prometheus family(String name, String help, String type) {
        if (!name.matches("[a-zA-Z_:][a-zA-Z0-9_:]*")) {
            throw new IllegalArgumentException("bad metric name " + name);
        }
        if (!families.add(name)) {
            throw new IllegalStateException("metric family " + name + " written twice");
        }
        out.append("# HELP ").append(name).append(' ').append(help.replace("\\", "\\\\").replace("\n", "\\n"))
                .append('\n');
        out.append("# TYPE ").append(name).append(' ').append(type).append('\n');
        return this;
    }

    /** One sample without labels. */
    public Prometheus sample(String name, double value) {
        return sample(name, Map.of(), value);
    }

    /** One sample with labels, in the map's iteration order. */
    public Prometheus sample(String name, Map<String, String> labels, double value) {
        out.append(name);
        if (!labels.isEmpty()) {
            out.append('{');
            boolean first = true;
            for (Map.Entry<String, String> l : labels.entrySet()) {
                if (!first) {
                    out.append(',');
                }
                first = false;
                out.append(l.getKey()).append("=\"").append(escape(l.getValue())).append('"');
            }
            out.append('}');
        }
        out.append(' ').append(format(value)).append('\n');
        return this;
    }

    static String escape(String v) {
        return v.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
    }

    static String format(double v) {
        if (Double.isNaN(v)) {
            return "NaN";
        }
        if (Double.isInfinite(v)) {
            return v > 0 ? "+Inf" : "-Inf";
        }
        if (v == Math.rint(v) && Math.abs(v) < 1e15) {
            return Long.toString((long) v);
        }
        return String.format(Locale.ROOT, "%.6f", v);
    }

    @Override
    public String toString() {
        return out.toString();
    }
}
