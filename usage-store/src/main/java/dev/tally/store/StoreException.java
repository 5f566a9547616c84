package dev.tally.store;

/**
 * A storage failure (disk, DuckDB, a damaged file). The operation that threw it did not take
 * effect: a failed append stored nothing and marked no id as seen.
 */
public class StoreException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public StoreException(String message) {
        super(message);
    }

    public StoreException(String message, Throwable cause) {
        super(message, cause);
    }
}
