package dev.tally.store.meter;

import dev.tally.store.StoreException;

/**
 * A valid meter query could not be answered: the detail it needs was deleted by retention, a
 * sum left DECIMAL(38,9), or the store failed. The message says which and why.
 */
public final class MeterQueryException extends StoreException {
    private static final long serialVersionUID = 1L;

    public MeterQueryException(String message) {
        super(message);
    }

    public MeterQueryException(String message, Throwable cause) {
        super(message, cause);
    }
}
