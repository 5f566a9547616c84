package dev.tally.store.internal;

import dev.tally.store.mutation.Mutation;

/**
 * A test seam inside the append path, called while the append holds the write gate: once the
 * target segment is chosen, and after its rows are written, before they commit. Production uses
 * {@link #NONE}.
 */
@FunctionalInterface
public interface AppendSeam {
    AppendSeam NONE = seq -> { };

    /** @param segmentSeq the segment the rows are being written to */
    void beforeCommit(long segmentSeq);

    /** Called once the append chose its segment, before it writes anything. */
    default void segmentChosen(long segmentSeq) {
    }

    /** Promises switched off for a mutation test; none in production. */
    default java.util.Set<Mutation> mutations() {
        return java.util.Set.of();
    }
}
