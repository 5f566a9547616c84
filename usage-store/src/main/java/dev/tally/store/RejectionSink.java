package dev.tally.store;

import java.io.IOException;
import java.util.List;

/**
 * Receives the events an append refused, after validation and before the append's transaction
 * commits, so an importer can make its dead letters durable before the import position moves
 * past them. Called on the appending thread without any store lock held, once per append, with
 * a possibly empty list.
 */
@FunctionalInterface
public interface RejectionSink {
    RejectionSink NONE = rejected -> { };

    /**
     * @throws IOException to abort the append: nothing of it is stored and its position does not move
     */
    void accept(List<Rejection> rejected) throws IOException;
}
