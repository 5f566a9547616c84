package dev.tally.store.internal;

/**
 * A test seam inside the append path: called while the append holds the write gate, after its
 * rows are written and before they commit. Production uses {@link #NONE}.
 */
@FunctionalInterface
public interface AppendSeam {
    AppendSeam NONE = seq -> { };

    /** @param segmentSeq the segment the rows are being written to */
    void beforeCommit(long segmentSeq);
}
