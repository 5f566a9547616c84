package dev.tally.store.read;

import dev.tally.store.StoreConfig;
import dev.tally.store.StoreException;
import dev.tally.store.UsageStore;
import dev.tally.store.engine.Engine;
import java.sql.SQLException;
import java.util.List;
import java.util.function.Consumer;

/**
 * The read side of a store built by {@code UsageStore.builder()}: pinned views of every tier,
 * the engine they are attached to, part checks and part-deleted notices. Query layers (meters,
 * SQL sandbox, export, verify) take this instead of the store's implementation class.
 *
 * <p>Implementations are thread-safe.
 */
public interface StoreReader {
    /**
     * Pins the current view of every tier; close it exactly once when done. Views are swapped
     * atomically, so every row is in exactly one tier of the returned view.
     *
     * @throws StoreException when the store is closed
     */
    ReadView acquireView();

    /** The shared DuckDB engine the view's segments are attached to (as {@code seg_<seq>}). */
    Engine engine();

    StoreConfig config();

    /**
     * Registers {@code listener} to be told of every part retention, compaction or quarantine
     * removed, once no reader pins it any more, so a per-part cache can drop its entries without a
     * query still running putting one back. Returns a handle that unregisters it. The listener
     * runs on the releasing thread and must not block; what it throws is logged and ignored.
     */
    AutoCloseable onPartDeleted(Consumer<? super PartInfo> listener);

    /**
     * Turns a failed read of {@code partsRead} into an error that says what happened: a damaged
     * part among them is quarantined (unless the store is report-only) and named; the engine's
     * text, which may quote another tenant's value, is logged under an incident id, never
     * returned.
     */
    StoreException readFailure(List<? extends PartFile> partsRead, SQLException cause);

    /**
     * Checks every published part's size and CRC32C and quarantines the damaged ones (unless the
     * store is report-only). Reads the whole archive.
     *
     * @return one line per damaged part: its path and what was wrong
     */
    List<String> verifyParts();

    /** The store's counters (events by outcome, seal, retention and gate-wait time). */
    StoreStats stats();

    /**
     * The read side of {@code store}: the store itself when it has one (every store built by
     * {@code UsageStore.builder()} does).
     *
     * @throws IllegalArgumentException for a store without a read side
     */
    static StoreReader of(UsageStore store) {
        java.util.Objects.requireNonNull(store, "store");
        if (store instanceof StoreReader r) {
            return r;
        }
        throw new IllegalArgumentException("store must be a store built by UsageStore.builder(), got "
                + store.getClass().getName());
    }
}
