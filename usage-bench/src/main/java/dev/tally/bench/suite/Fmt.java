package dev.tally.bench.suite;

import java.util.Locale;

/**
 * How the benchmark report writes its figures: rates, milliseconds, ratios, percentages, byte
 * sizes, event counts and system names; "—" for a missing figure.
 *
 * <p>Thread-safe: holds no state.
 */
final class Fmt {
    private Fmt() {
    }

    static String rate(Double v) {
        return v == null ? "—" : String.format(Locale.ROOT, "%,.0f", v);
    }

    static String ms(Double v) {
        if (v == null) {
            return "—";
        }
        return String.format(Locale.ROOT, v < 1 ? "%.3f" : v < 100 ? "%.2f" : "%,.0f", v);
    }

    static String x(Double v) {
        return v == null ? "—" : String.format(Locale.ROOT, "%.2f×", v);
    }

    static String pct(Double v) {
        return v == null ? "—" : String.format(Locale.ROOT, "%.0f%%", 100 * v);
    }

    static String bytes(Double v) {
        if (v == null || v < 0) {
            return "—";
        }
        String[] u = {"B", "KiB", "MiB", "GiB", "TiB"};
        int i = 0;
        double d = v;
        while (d >= 1024 && i < u.length - 1) {
            d /= 1024;
            i++;
        }
        return String.format(Locale.ROOT, i == 0 ? "%.0f %s" : "%.1f %s", d, u[i]);
    }

    static String perEvent(Double bytes, double events) {
        return bytes == null ? "—" : String.format(Locale.ROOT, "%.1f", bytes / events);
    }

    static String events(long n) {
        if (n % 1_000_000 == 0) {
            return n / 1_000_000 + "M";
        }
        if (n % 1_000 == 0) {
            return n / 1_000 + "k";
        }
        return Long.toString(n);
    }

    static String name(String sys) {
        return switch (sys) {
            case "store" -> "Tally";
            case "raw" -> "engine limit";
            case "pg" -> "PostgreSQL";
            default -> sys;
        };
    }

    static String orDash(String s) {
        return s.isEmpty() ? "—" : s;
    }

}
