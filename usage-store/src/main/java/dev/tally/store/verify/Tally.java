package dev.tally.store.verify;

import java.math.BigDecimal;
import java.util.Collections;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * An event count and the exact sum of each top-level numeric {@code data} property of those
 * events, by property name.
 *
 * <p>Immutable and thread-safe.
 *
 * @param events how many events
 * @param sums   property name to exact sum, sorted by name
 */
public record Tally(long events, Map<String, BigDecimal> sums) {
    public static final Tally ZERO = new Tally(0, Map.of());

    public Tally {
        Objects.requireNonNull(sums, "sums");
        sums = Collections.unmodifiableMap(new TreeMap<>(sums));
    }

    /** Whether both have the same count and the same sums (compared as exact numbers). */
    public boolean sameAs(Tally other) {
        if (events != other.events) {
            return false;
        }
        TreeMap<String, BigDecimal> a = new TreeMap<>(sums);
        TreeMap<String, BigDecimal> b = new TreeMap<>(other.sums);
        if (!a.keySet().equals(b.keySet())) {
            return false;
        }
        for (Map.Entry<String, BigDecimal> e : a.entrySet()) {
            if (e.getValue().compareTo(b.get(e.getKey())) != 0) {
                return false;
            }
        }
        return true;
    }

    /** A mutable accumulator. Not thread-safe. */
    static final class Builder {
        private long events;
        private final java.util.HashMap<String, BigDecimal> sums = new java.util.HashMap<>();

        void add(String data) {
            events++;
            JsonData.addTopLevelNumbers(data, sums);
        }

        /** Adds one event whose top-level numbers were already extracted. */
        void add(Map<String, BigDecimal> numbers) {
            events++;
            for (Map.Entry<String, BigDecimal> e : numbers.entrySet()) {
                sums.merge(e.getKey(), e.getValue(), BigDecimal::add);
            }
        }

        Tally build() {
            return new Tally(events, sums);
        }
    }
}
