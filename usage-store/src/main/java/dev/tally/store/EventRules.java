package dev.tally.store;

import java.time.Duration;
import java.time.Instant;
import java.util.Objects;

/**
 * The rules for a valid event, in one place: the tenant format, field limits, time bounds and the
 * shape of {@code data}. Every path that takes events (the store's append, the journal, the HTTP
 * API, spool and journal imports) applies these and no other rules. Every refusal names the
 * field, the value and the reason.
 *
 * <p>The rules split in two. {@link #canonical} checks everything that does not depend on the
 * clock and returns a {@link ValidEvent} in stored form; it never needs to run twice for one
 * event. {@link #checkTime} checks the time bounds against a clock, and runs wherever an event is
 * accepted (the HTTP API when it answers, the store when it stores), because an event valid
 * yesterday may be too old today.
 *
 * <p>Thread-safe: immutable.
 */
public final class EventRules {
    public static final int MAX_TENANT = 64;
    public static final int MAX_ID = 256;
    public static final int MAX_TYPE = 128;
    public static final int MAX_SUBJECT = 256;
    public static final int MAX_SOURCE = 256;
    /** Longest {@code data} in its compact form, in characters. */
    public static final int MAX_DATA_CHARS = 64 * 1024;

    private final Duration maxEventAge;
    private final Duration maxClockSkew;

    /**
     * @param maxEventAge  events older than this (against the clock given to {@link #checkTime}) are refused
     * @param maxClockSkew events further ahead than this are refused
     */
    public EventRules(Duration maxEventAge, Duration maxClockSkew) {
        this.maxEventAge = Objects.requireNonNull(maxEventAge, "maxEventAge");
        this.maxClockSkew = Objects.requireNonNull(maxClockSkew, "maxClockSkew");
    }

    /** The rules with a store's time bounds. */
    public static EventRules of(StoreConfig config) {
        return new EventRules(config.maxEventAge(), config.maxClockSkew());
    }

    /**
     * The tenant rule, the only copy of it: 1 to {@value #MAX_TENANT} characters,
     * {@code [A-Za-z0-9][A-Za-z0-9._-]*}. Checked by hand: it runs for every event.
     */
    public static boolean isTenant(String s) {
        if (s == null || s.isEmpty() || s.length() > MAX_TENANT) {
            return false;
        }
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            boolean alnum = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9';
            if (!alnum && (i == 0 || c != '.' && c != '_' && c != '-')) {
                return false;
            }
        }
        return true;
    }

    /** Every rule: {@link #canonical}, then {@link #checkTime} against {@code now}. */
    public ValidEvent validate(UsageEvent e, Instant now) throws EventRejectedException {
        ValidEvent v = canonical(e);
        checkTime(v.time(), now);
        return v;
    }

    /**
     * Checks every rule that does not depend on the clock and returns the event in stored form.
     * {@code data} is parsed here; an event parsed from JSON by {@link EventCodec#parseValid} has
     * been through this already and need not come here.
     */
    public static ValidEvent canonical(UsageEvent e) throws EventRejectedException {
        if (e == null) {
            throw new EventRejectedException(RejectReason.MISSING_FIELD, "the event is null");
        }
        return checkFields(e, EventCodec.canonicalData(e.data()));
    }

    /**
     * The field rules, with {@code data} already in canonical form (the codec's parser makes it
     * so while reading the event, so it is parsed once).
     */
    static ValidEvent checkFields(UsageEvent e, String canonicalData) throws EventRejectedException {
        String tenant = required("tenant", e.tenant(), MAX_TENANT);
        if (!isTenant(tenant)) {
            throw new EventRejectedException(RejectReason.INVALID_FIELD, "field 'tenant' = "
                    + EventCodec.quote(tenant) + " must start with a letter or digit and contain only letters, "
                    + "digits, '.', '_' and '-'");
        }
        String id = required("id", e.id(), MAX_ID);
        String type = required("type", e.type(), MAX_TYPE);
        String subject = required("subject", e.subject(), MAX_SUBJECT);
        String source = e.source();
        if (source != null) {
            if (source.isEmpty()) {
                source = null;
            } else {
                checkText("source", source, MAX_SOURCE);
            }
        }
        if (e.time() == null) {
            throw new EventRejectedException(RejectReason.MISSING_FIELD, "field 'time' is missing");
        }
        if (canonicalData.length() > MAX_DATA_CHARS) {
            throw new EventRejectedException(RejectReason.TOO_LONG, "field 'data' is " + canonicalData.length()
                    + " characters long; the limit is " + MAX_DATA_CHARS);
        }
        return new ValidEvent(new UsageEvent(tenant, id, type, subject, source, e.time(), canonicalData)
                .truncatedToMicros());
    }

    /**
     * The clock-dependent rules: {@code time} no older than maxEventAge and no further ahead than
     * maxClockSkew, against {@code now}.
     */
    public void checkTime(Instant time, Instant now) throws EventRejectedException {
        if (time == null) {
            throw new EventRejectedException(RejectReason.MISSING_FIELD, "field 'time' is missing");
        }
        Instant oldest = now.minus(maxEventAge);
        if (time.isBefore(oldest)) {
            throw new EventRejectedException(RejectReason.TIME_TOO_OLD, "field 'time' = " + EventCodec.formatTime(time)
                    + " is older than maxEventAge (" + maxEventAge + "; oldest accepted now: "
                    + EventCodec.formatTime(oldest) + ")");
        }
        Instant newest = now.plus(maxClockSkew);
        if (time.isAfter(newest)) {
            throw new EventRejectedException(RejectReason.TIME_IN_FUTURE, "field 'time' = "
                    + EventCodec.formatTime(time) + " is more than maxClockSkew (" + maxClockSkew
                    + ") ahead of the store's clock (" + EventCodec.formatTime(now) + ")");
        }
    }

    private static String required(String field, String value, int max) throws EventRejectedException {
        if (value == null || value.isEmpty()) {
            throw new EventRejectedException(RejectReason.MISSING_FIELD, "field '" + field + "' is missing or empty");
        }
        checkText(field, value, max);
        return value;
    }

    private static void checkText(String field, String value, int max) throws EventRejectedException {
        if (value.length() > max) {
            throw new EventRejectedException(RejectReason.TOO_LONG, "field '" + field + "' is " + value.length()
                    + " characters long; the limit is " + max + " (value starts " + EventCodec.quote(value) + ")");
        }
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (c < 0x20 || c == 0x7F || Character.isSurrogate(c) && !validSurrogate(value, i)) {
                throw new EventRejectedException(RejectReason.INVALID_FIELD, "field '" + field
                        + "' contains a control character or broken surrogate at position " + i);
            }
        }
    }

    private static boolean validSurrogate(String s, int i) {
        char c = s.charAt(i);
        if (Character.isHighSurrogate(c)) {
            return i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1));
        }
        return i > 0 && Character.isHighSurrogate(s.charAt(i - 1));
    }
}
