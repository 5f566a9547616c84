package dev.tally.store.meter;

import java.math.BigDecimal;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;

/**
 * Partial aggregates that combine exactly: events, values, exact sum, min, max. Per-part results
 * are immutable maps of these; combining makes new instances.
 */
record Partial(long events, long values, BigDecimal sum, BigDecimal min, BigDecimal max) {
    static final Partial EMPTY = new Partial(0, 0, null, null, null);

    Partial plus(Partial o) {
        return new Partial(events + o.events, values + o.values, add(sum, o.sum), pick(min, o.min, true),
                pick(max, o.max, false));
    }

    private static BigDecimal add(BigDecimal a, BigDecimal b) {
        return a == null ? b : b == null ? a : a.add(b);
    }

    private static BigDecimal pick(BigDecimal a, BigDecimal b, boolean smaller) {
        if (a == null) {
            return b;
        }
        if (b == null) {
            return a;
        }
        int c = a.compareTo(b);
        return smaller ? (c <= 0 ? a : b) : (c >= 0 ? a : b);
    }

    /**
     * The key of one result row inside a query: natural window start in microseconds (or
     * {@link Windows#WHOLE_RANGE}), subject (null when summed) and group values.
     */
    record Key(long window, String subject, List<String> groups) {
        Key {
            groups = java.util.Collections.unmodifiableList(new java.util.ArrayList<>(groups));
        }
    }

    /** Orders keys by window, subject, groups; nulls first, text by Unicode code point. */
    static final Comparator<Key> ORDER = (a, b) -> {
        int c = Long.compare(a.window(), b.window());
        if (c != 0) {
            return c;
        }
        c = compareText(a.subject(), b.subject());
        if (c != 0) {
            return c;
        }
        for (int i = 0; i < a.groups().size(); i++) {
            c = compareText(a.groups().get(i), b.groups().get(i));
            if (c != 0) {
                return c;
            }
        }
        return 0;
    };

    static int compareText(String a, String b) {
        if (Objects.equals(a, b)) {
            return 0;
        }
        if (a == null) {
            return -1;
        }
        if (b == null) {
            return 1;
        }
        int i = 0;
        int j = 0;
        while (i < a.length() && j < b.length()) {
            int ca = a.codePointAt(i);
            int cb = b.codePointAt(j);
            if (ca != cb) {
                return Integer.compare(ca, cb);
            }
            i += Character.charCount(ca);
            j += Character.charCount(cb);
        }
        return Integer.compare(a.length() - i, b.length() - j);
    }
}
