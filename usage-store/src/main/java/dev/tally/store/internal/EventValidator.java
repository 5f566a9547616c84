package dev.tally.store.internal;

import dev.tally.store.EventCodec;
import dev.tally.store.EventRejectedException;
import dev.tally.store.RejectReason;
import dev.tally.store.StoreConfig;
import dev.tally.store.UsageEvent;
import java.time.Instant;

/**
 * Checks one event against the store's rules and returns it in stored form (time truncated to
 * microseconds, {@code data} compact with exact numbers). Every refusal names the field, the
 * value and the reason.
 *
 * <p>Thread-safe: immutable.
 */
public final class EventValidator {
    public static final int MAX_TENANT = 64;
    public static final int MAX_ID = 256;
    public static final int MAX_TYPE = 128;
    public static final int MAX_SUBJECT = 256;
    public static final int MAX_SOURCE = 256;
    public static final int MAX_DATA_CHARS = 64 * 1024;


    private final StoreConfig config;

    public EventValidator(StoreConfig config) {
        this.config = config;
    }

    public UsageEvent validate(UsageEvent e, Instant now) throws EventRejectedException {
        if (e == null) {
            throw new EventRejectedException(RejectReason.MISSING_FIELD, "the event is null");
        }
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
        Instant time = e.time();
        if (time == null) {
            throw new EventRejectedException(RejectReason.MISSING_FIELD, "field 'time' is missing");
        }
        Instant oldest = now.minus(config.maxEventAge());
        if (time.isBefore(oldest)) {
            throw new EventRejectedException(RejectReason.TIME_TOO_OLD, "field 'time' = " + EventCodec.formatTime(time)
                    + " is older than maxEventAge (" + config.maxEventAge() + "; oldest accepted now: "
                    + EventCodec.formatTime(oldest) + ")");
        }
        Instant newest = now.plus(config.maxClockSkew());
        if (time.isAfter(newest)) {
            throw new EventRejectedException(RejectReason.TIME_IN_FUTURE, "field 'time' = "
                    + EventCodec.formatTime(time) + " is more than maxClockSkew (" + config.maxClockSkew()
                    + ") ahead of the store's clock (" + EventCodec.formatTime(now) + ")");
        }
        String data = EventCodec.canonicalData(e.data());
        if (data.length() > MAX_DATA_CHARS) {
            throw new EventRejectedException(RejectReason.TOO_LONG, "field 'data' is " + data.length()
                    + " characters long; the limit is " + MAX_DATA_CHARS);
        }
        return new UsageEvent(tenant, id, type, subject, source, time, data).truncatedToMicros();
    }

    /** {@code [A-Za-z0-9][A-Za-z0-9._-]*}, checked by hand: it runs for every event. */
    private static boolean isTenant(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            boolean alnum = c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9';
            if (!alnum && (i == 0 || c != '.' && c != '_' && c != '-')) {
                return false;
            }
        }
        return true;
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
