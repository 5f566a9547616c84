package dev.tally.store.mutation;

/**
 * A promise a test may switch off (through the store's append seam, or for the journal a
 * test-only switch in its package), to show that the test guarding the promise fails without it.
 * Production switches none off.
 */
public enum Mutation {
    /** The import position commits in its own transaction before the batch's rows. */
    POSITION_OUTSIDE_TRANSACTION,
    /** An append stores events already stored instead of dropping them as duplicates. */
    NO_DEDUP_CHECK,
    /** Journal writers of different processes do not take the file lock on {@code journal.lock}. */
    NO_JOURNAL_FILE_LOCK
}
