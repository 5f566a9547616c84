package dev.tally.store.correct;

import java.util.Objects;

/**
 * A store that keeps a corrections record (every store built by {@code UsageStore.builder()}):
 * what readers of its tiers apply so voided events are gone and amended ones carry their new
 * values. Query layers get it with {@link #of}.
 *
 * <p>Implementations are thread-safe.
 */
public interface CorrectedStore {
    /** The store's corrections record. */
    CorrectionLog corrections();

    /**
     * The corrections record of {@code store}.
     *
     * @throws IllegalArgumentException for a store that keeps none
     */
    static CorrectionLog of(Object store) {
        Objects.requireNonNull(store, "store");
        if (store instanceof CorrectedStore c) {
            return c.corrections();
        }
        throw new IllegalArgumentException("store must be a store built by UsageStore.builder(), got "
                + store.getClass().getName());
    }
}
