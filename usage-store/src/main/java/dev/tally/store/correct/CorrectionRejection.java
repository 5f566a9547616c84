package dev.tally.store.correct;

import java.util.Objects;

/**
 * One id of a correction that was not corrected, reported like a rejected event.
 *
 * @param index   position of the id in the request (0 for an amend)
 * @param id      the event id
 * @param reason  machine-readable reason
 * @param message what is wrong, naming the id
 */
public record CorrectionRejection(int index, String id, CorrectionRejectReason reason, String message) {
    public CorrectionRejection {
        Objects.requireNonNull(reason, "reason");
        Objects.requireNonNull(message, "message");
    }
}
