package dev.tally.store;

/**
 * Why an event or an input line was not stored. The same codes are used in append results,
 * dead-letter entries, the HTTP API and metrics, so a producer can act on them by name.
 */
public enum RejectReason {
    /** A required field is absent or empty. */
    MISSING_FIELD,
    /** A field has a value of the wrong shape (characters, format, type). */
    INVALID_FIELD,
    /** A field is longer than its limit. */
    TOO_LONG,
    /** The event time is older than the store accepts ({@code maxEventAge}). */
    TIME_TOO_OLD,
    /** The event time is further ahead than the store accepts ({@code maxClockSkew}). */
    TIME_IN_FUTURE,
    /** The line or the {@code data} field is not valid JSON. */
    INVALID_JSON,
    /** {@code data} is not a JSON object. */
    DATA_NOT_OBJECT,
    /** A JSON object has the same key twice. */
    DUPLICATE_KEY,
    /** JSON nested deeper than the limit. */
    NESTING_TOO_DEEP,
    /** NaN or Infinity, which billing sums cannot hold. */
    NON_FINITE_NUMBER,
    /** A number that cannot be held exactly as DECIMAL(38,9). */
    NUMBER_OUT_OF_RANGE,
    /** A line longer than the import limit; it was skipped without being read whole. */
    LINE_TOO_LONG,
    /** Bytes that are not valid UTF-8. */
    MALFORMED_UTF8,
    /** A journal record whose checksum does not match its bytes (damaged on disk). */
    CORRUPT_RECORD,
    /** The event's tenant belongs to another worker of a sharded group (or to none): see the message for the owner. */
    TENANT_NOT_OWNED,
    /** A journaled correction the store refuses as malformed (the message names the field). */
    INVALID_CORRECTION,
    /** A journaled correction touching a closed period without force (the message names the period). */
    CLOSED_PERIOD,
    /** Ids of a journaled correction that no event of its tenant has (the message lists them one by one). */
    UNKNOWN_ID,
    /** Ids of a journaled correction that are voided already (the message lists them one by one). */
    ALREADY_VOIDED,
    /** A journaled amend whose replacement breaks an event rule or leaves its UTC day. */
    INVALID_REPLACEMENT;

    /** The lower-case wire name, e.g. {@code time_too_old}. */
    public String code() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
