package dev.tally.store.journal;

/**
 * Counters of one {@link Journal} instance since it was opened.
 *
 * <p>Thread-safe: immutable snapshot.
 *
 * @param appends      append calls acknowledged
 * @param events       events in those calls
 * @param groups       write groups (one write each); {@code appends / groups} is the group-commit factor
 * @param syncs        fsyncs of the live journal (per group, in the background, or on close)
 * @param bytes        record bytes written
 * @param rotations    rotations this instance performed
 * @param tailRepairs  torn tails this instance cut (at open or before a write)
 */
public record JournalStats(long appends, long events, long groups, long syncs, long bytes, long rotations,
        long tailRepairs) {
}
