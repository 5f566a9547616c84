package dev.tally.store.internal;

import java.time.Instant;

/** Conversions between instants and DuckDB's microsecond timestamps. Thread-safe: stateless. */
public final class TimeUtil {
    private TimeUtil() {
    }

    public static long toMicros(Instant t) {
        return Math.addExact(Math.multiplyExact(t.getEpochSecond(), 1_000_000L), t.getNano() / 1_000);
    }

    public static Instant fromMicros(long micros) {
        return Instant.ofEpochSecond(Math.floorDiv(micros, 1_000_000L), Math.floorMod(micros, 1_000_000L) * 1_000L);
    }

    /** A TIMESTAMP literal for SQL built by the store (never from user text). */
    public static String sqlTimestamp(Instant t) {
        return "make_timestamp(" + toMicros(t) + ")";
    }
}
