package dev.tally.store;

/** Thrown where a single event must be valid, for example when parsing one journal line. */
public final class EventRejectedException extends Exception {
    private static final long serialVersionUID = 1L;
    private final RejectReason reason;

    public EventRejectedException(RejectReason reason, String message) {
        super(message);
        this.reason = reason;
    }

    public RejectReason reason() {
        return reason;
    }
}
