package dev.tally.store.correct;

/** Why one id of a correction was not corrected. */
public enum CorrectionRejectReason {
    /** No event of the tenant has this id (never stored, another tenant's, or deleted by retention). */
    UNKNOWN_ID,
    /** The event is voided already. */
    ALREADY_VOIDED,
    /** The replacement breaks an event rule, changes the tenant or id, or moves the time out of its UTC day. */
    INVALID_REPLACEMENT;

    /** The lower-case wire name, e.g. {@code unknown_id}. */
    public String code() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
