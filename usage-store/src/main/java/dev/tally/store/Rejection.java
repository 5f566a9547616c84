package dev.tally.store;

import java.util.Objects;

/**
 * One event that was not stored, with the position it had in the submitted batch.
 *
 * @param index   zero-based position of the event in the batch
 * @param id      the event id as submitted (may be null or truncated when the id itself was bad)
 * @param reason  machine-readable reason
 * @param message human-readable detail naming the field, the value and why it was refused
 */
public record Rejection(int index, String id, RejectReason reason, String message) {
    public Rejection {
        Objects.requireNonNull(reason, "reason");
        Objects.requireNonNull(message, "message");
    }

    @Override
    public String toString() {
        return "#" + index + " " + reason.code() + ": " + message;
    }
}
