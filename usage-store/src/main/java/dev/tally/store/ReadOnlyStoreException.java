package dev.tally.store;

/** Thrown by every write entry point of a store opened report-only (read-only). */
public final class ReadOnlyStoreException extends StoreException {
    private static final long serialVersionUID = 1L;

    public ReadOnlyStoreException(String operation) {
        super("refused '" + operation + "': this store was opened report-only, which never writes");
    }
}
