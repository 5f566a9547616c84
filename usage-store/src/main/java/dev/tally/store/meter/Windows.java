package dev.tally.store.meter;

import dev.tally.store.engine.TimeUtil;
import java.time.Instant;
import java.time.LocalDate;
import java.time.OffsetDateTime;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.time.zone.ZoneOffsetTransition;
import java.time.zone.ZoneRules;
import java.util.Arrays;
import java.util.TreeSet;

/**
 * The windows of one query, computed with java.time so daylight-saving changes are exact.
 *
 * <p>The natural window of an instant {@code t} starts at {@code start(t)}:
 * <ul>
 *   <li>MINUTE, HOUR: {@code t.atZone(zone).truncatedTo(unit)}: the local time truncated, kept at
 *       {@code t}'s own offset when that is valid (so the repeated hour of a fall-back change is
 *       two one-hour windows), moved later by the gap when the truncated local time does not
 *       exist (so Lord Howe's 30-minute change makes a 30-minute window);</li>
 *   <li>DAY: local midnight of {@code t}'s local date ({@code atStartOfDay}; 23 or 25 hours on a
 *       change day);</li>
 *   <li>MONTH: local midnight of the 1st of {@code t}'s local month;</li>
 * </ul>
 * and ends where the next window starts. Reported windows are clipped to {@code [from, to)}.
 *
 * <p>Immutable.
 */
final class Windows {
    /** Most windows one query may produce. */
    static final int MAX_WINDOWS = 200_000;
    /** Window key of {@link WindowSize#NONE} in partial results. */
    static final long WHOLE_RANGE = Long.MIN_VALUE;

    private static final long HOUR_MICROS = 3_600_000_000L;

    final WindowSize size;
    final ZoneId zone;
    final Instant from;
    final Instant to;
    /** Natural starts in microseconds, ascending; the first is at or before {@code from}, all before {@code to}. */
    final long[] starts;

    private Windows(WindowSize size, ZoneId zone, Instant from, Instant to, long[] starts) {
        this.size = size;
        this.zone = zone;
        this.from = from;
        this.to = to;
        this.starts = starts;
    }

    static Windows plan(WindowSize size, ZoneId zone, Instant from, Instant to) {
        long[] starts;
        switch (size) {
            case NONE -> starts = new long[] {TimeUtil.toMicros(from)};
            case DAY, MONTH -> starts = calendar(size, zone, from, to);
            case MINUTE, HOUR -> starts = subDay(size == WindowSize.HOUR ? ChronoUnit.HOURS : ChronoUnit.MINUTES, zone,
                    from, to);
            default -> throw new IllegalStateException(String.valueOf(size));
        }
        return new Windows(size, zone, from, to, starts);
    }

    /** {@code start(t)} of the class comment. */
    static Instant start(WindowSize size, ZoneId zone, Instant t) {
        return switch (size) {
            case MINUTE -> t.atZone(zone).truncatedTo(ChronoUnit.MINUTES).toInstant();
            case HOUR -> t.atZone(zone).truncatedTo(ChronoUnit.HOURS).toInstant();
            case DAY -> t.atZone(zone).toLocalDate().atStartOfDay(zone).toInstant();
            case MONTH -> t.atZone(zone).toLocalDate().withDayOfMonth(1).atStartOfDay(zone).toInstant();
            case NONE -> throw new IllegalArgumentException("NONE has no natural windows");
        };
    }

    private static long[] calendar(WindowSize size, ZoneId zone, Instant from, Instant to) {
        LocalDate d = from.atZone(zone).toLocalDate();
        if (size == WindowSize.MONTH) {
            d = d.withDayOfMonth(1);
        }
        long[] out = new long[16];
        int n = 0;
        long prev = Long.MIN_VALUE;
        for (;;) {
            Instant b = d.atStartOfDay(zone).toInstant();
            if (!b.isBefore(to)) {
                break;
            }
            long m = TimeUtil.toMicros(b);
            if (m != prev) { // a skipped date (Samoa, 2011-12-30) starts where the next one does
                if (n == out.length) {
                    out = Arrays.copyOf(out, n * 2);
                }
                out[n++] = m;
                prev = m;
                tooMany(n, size);
            }
            d = size == WindowSize.MONTH ? d.plusMonths(1) : d.plusDays(1);
        }
        return Arrays.copyOf(out, n);
    }

    /**
     * Every instant in range where a minute or hour window starts. A start is either a local time
     * on the unit within one stretch of constant offset, or (when the truncated local time fell
     * into a gap) the transition instant itself; each candidate is kept when it starts its own
     * window.
     */
    private static long[] subDay(ChronoUnit unit, ZoneId zone, Instant from, Instant to) {
        long u = unit.getDuration().getSeconds();
        long estimate = (to.getEpochSecond() - from.getEpochSecond()) / u;
        tooMany(estimate, unit == ChronoUnit.HOURS ? WindowSize.HOUR : WindowSize.MINUTE);
        ZoneRules rules = zone.getRules();
        Instant b0 = from.atZone(zone).truncatedTo(unit).toInstant();
        TreeSet<Instant> candidates = new TreeSet<>();
        candidates.add(b0);
        Instant segStart = b0;
        while (segStart.isBefore(to)) {
            ZoneOffset o = rules.getOffset(segStart);
            ZoneOffsetTransition next = rules.nextTransition(segStart);
            Instant segEnd = next == null || next.getInstant().isAfter(to) ? to : next.getInstant();
            long local = segStart.getEpochSecond() + o.getTotalSeconds() + (segStart.getNano() > 0 ? 1 : 0);
            long first = Math.floorDiv(local + u - 1, u) * u;
            for (long l = first; l - o.getTotalSeconds() < segEnd.getEpochSecond()
                    || l - o.getTotalSeconds() == segEnd.getEpochSecond() && segEnd.getNano() > 0; l += u) {
                candidates.add(Instant.ofEpochSecond(l - o.getTotalSeconds()));
            }
            if (next != null && next.getInstant().isBefore(to)) {
                candidates.add(next.getInstant());
            }
            if (!segEnd.isAfter(segStart)) {
                break;
            }
            segStart = segEnd;
        }
        long[] out = new long[candidates.size()];
        int n = 0;
        for (Instant c : candidates) {
            if (c.isBefore(to) && !c.isBefore(b0) && c.atZone(zone).truncatedTo(unit).toInstant().equals(c)) {
                out[n++] = TimeUtil.toMicros(c);
            }
        }
        return Arrays.copyOf(out, n);
    }

    private static void tooMany(long n, WindowSize size) {
        if (n > MAX_WINDOWS) {
            throw new InvalidMeterException("window", size, "the range holds more than " + MAX_WINDOWS
                    + " windows of this size; use a larger window or a shorter range");
        }
    }

    int count() {
        return starts.length;
    }

    /** Index of the window with this natural start (or {@link #WHOLE_RANGE}), or -1. */
    int indexOf(long naturalStart) {
        if (size == WindowSize.NONE) {
            return naturalStart == WHOLE_RANGE ? 0 : -1;
        }
        int i = Arrays.binarySearch(starts, naturalStart);
        return i >= 0 ? i : -1;
    }

    /** Clipped start of window {@code i}, at the zone's offset then. */
    OffsetDateTime startOf(int i) {
        Instant s = TimeUtil.fromMicros(starts[i]);
        if (s.isBefore(from)) {
            s = from;
        }
        return s.atZone(zone).toOffsetDateTime();
    }

    /** Clipped end of window {@code i}, at the zone's offset then. */
    OffsetDateTime endOf(int i) {
        Instant e = i + 1 < starts.length ? TimeUtil.fromMicros(starts[i + 1]) : to;
        return e.atZone(zone).toOffsetDateTime();
    }

    /**
     * Whether every window is a union of whole UTC hours: {@code from}, {@code to} and every
     * window start inside the range fall on a UTC hour. That holds exactly when the zone's offset
     * is a whole number of hours at every boundary, which ZoneRules transitions decide; it is
     * checked on the boundaries themselves so no case is missed.
     */
    boolean hourAligned() {
        if (TimeUtil.toMicros(from) % HOUR_MICROS != 0 || TimeUtil.toMicros(to) % HOUR_MICROS != 0) {
            return false;
        }
        if (size == WindowSize.NONE) {
            return true;
        }
        for (int i = 1; i < starts.length; i++) {
            if (Math.floorMod(starts[i], HOUR_MICROS) != 0) {
                return false;
            }
        }
        return true;
    }

    /** The first offset in range that is not a whole hour, for the plan text; null if none. */
    String offsetNote() {
        ZoneRules rules = zone.getRules();
        Instant t = from;
        for (int guard = 0; guard < 10_000 && t.isBefore(to); guard++) {
            ZoneOffset o = rules.getOffset(t);
            if (o.getTotalSeconds() % 3600 != 0) {
                return zone.getId() + " is at UTC" + o.getId() + " at " + t;
            }
            ZoneOffsetTransition next = rules.nextTransition(t);
            if (next == null) {
                break;
            }
            t = next.getInstant();
        }
        return null;
    }

    /** The natural start of the one window ({@link #WHOLE_RANGE} without windows); only when {@link #single()}. */
    long singleStart() {
        return size == WindowSize.NONE ? WHOLE_RANGE : starts[0];
    }

    /** Whether every row falls in one window, so {@link #arithmeticSql} does not read the time. */
    boolean single() {
        return size == WindowSize.NONE || starts.length == 1;
    }

    /**
     * SQL giving the natural window start (microseconds) of the microsecond time in
     * {@code micros}, or null when the windows are not evenly spaced and an ASOF join against
     * {@link #startsSql()} is needed.
     */
    String arithmeticSql(String micros) {
        if (size == WindowSize.NONE) {
            return "CAST(NULL AS BIGINT)";
        }
        if (starts.length == 1) {
            return starts[0] + "::BIGINT";
        }
        long d = starts[1] - starts[0];
        for (int i = 2; i < starts.length; i++) {
            if (starts[i] - starts[i - 1] != d) {
                return null;
            }
        }
        if (TimeUtil.toMicros(to) > starts[starts.length - 1] + d) {
            return null; // the last window is longer than the others (a 25-hour day)
        }
        long p = starts[0];
        return "(" + p + "::BIGINT + (" + micros + " - " + p + "::BIGINT) // " + d + " * " + d + ")";
    }

    /** SQL: a one-column relation {@code ws} of the natural starts, for an ASOF join. */
    String startsSql() {
        StringBuilder sb = new StringBuilder(starts.length * 18 + 40).append("(SELECT unnest([");
        for (int i = 0; i < starts.length; i++) {
            if (i > 0) {
                sb.append(',');
            }
            sb.append(starts[i]);
        }
        return sb.append("]::BIGINT[]) AS ws)").toString();
    }
}
