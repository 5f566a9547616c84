package dev.tally.store.meter;

/**
 * A meter definition or a meter query was refused. The message names the field, the value and
 * the reason, e.g. {@code meters[2].valueProperty = 'input_tokens': must start with '$'}.
 */
public final class InvalidMeterException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    private final String field;
    private final String value;
    private final String reason;

    public InvalidMeterException(String field, Object value, String reason) {
        super(field + " = " + show(value) + ": " + reason);
        this.field = field;
        this.value = value == null ? null : String.valueOf(value);
        this.reason = reason;
    }

    /** The field that was refused, e.g. {@code valueProperty} or {@code meters[2].groupBy.model}. */
    public String field() {
        return field;
    }

    /** The refused value as text, or null when it was missing. */
    public String value() {
        return value;
    }

    /** Why it was refused. */
    public String reason() {
        return reason;
    }

    /** Returns a copy whose field is prefixed, e.g. with {@code meters[2].}. */
    InvalidMeterException within(String prefix) {
        return new InvalidMeterException(prefix + field, value, reason);
    }

    private static String show(Object v) {
        if (v == null) {
            return "null";
        }
        String s = String.valueOf(v);
        if (s.length() > 80) {
            s = s.substring(0, 80) + "…(" + s.length() + " chars)";
        }
        return v instanceof String ? "'" + s + "'" : s;
    }
}
