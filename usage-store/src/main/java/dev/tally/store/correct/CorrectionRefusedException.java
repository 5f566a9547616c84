package dev.tally.store.correct;

import dev.tally.store.RejectReason;
import dev.tally.store.StoreException;
import java.util.Objects;

/**
 * A correction a store refuses whole before reading anything, for a reason of the event path: a
 * sharded worker's store refuses a tenant it does not own ({@link RejectReason#TENANT_NOT_OWNED}).
 * The journal importer dead-letters the correction's record with this reason.
 *
 * <p>Thread-safe: immutable.
 */
public final class CorrectionRefusedException extends StoreException {
    private final RejectReason reason;

    public CorrectionRefusedException(RejectReason reason, String message) {
        super(message);
        this.reason = Objects.requireNonNull(reason, "reason");
    }

    /** Why the correction was refused. */
    public RejectReason reason() {
        return reason;
    }
}
