package dev.tally.store.engine;

import java.time.Instant;

/** Conversions between instants and DuckDB's microsecond timestamps. Thread-safe: stateless. */
public final class TimeUtil {
    private TimeUtil() {
    }

    /** Earliest and latest instants a stored timestamp can hold; query bounds are clamped to them. */
    public static final Instant MIN = Instant.parse("0001-01-01T00:00:00Z");
    public static final Instant MAX = Instant.parse("9999-12-31T23:59:59.999999Z");

    /** {@code t} limited to {@link #MIN}..{@link #MAX}, for query bounds such as "everything". */
    public static Instant clamp(Instant t) {
        return t.isBefore(MIN) ? MIN : t.isAfter(MAX) ? MAX : t;
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
