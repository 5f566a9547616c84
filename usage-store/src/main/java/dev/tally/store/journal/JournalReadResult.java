package dev.tally.store.journal;

import java.util.List;
import java.util.Objects;

/**
 * What one {@link JournalReader#read} call returned.
 *
 * <p>Thread-safe: immutable.
 *
 * @param records    the records in file order, at most the requested number
 * @param nextOffset the boundary after the last returned record (the requested offset when none
 *                   was returned); never inside a line
 * @param atEnd      true when nothing more can be read now: the file ends, or only a partial last
 *                   line (or, in the live journal, only a damaged tail that the next writer will
 *                   cut) follows; false when the call stopped at {@code maxRecords}
 */
public record JournalReadResult(List<JournalRecord> records, long nextOffset, boolean atEnd) {
    public JournalReadResult {
        records = List.copyOf(Objects.requireNonNull(records, "records"));
    }
}
