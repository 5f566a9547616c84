package dev.tally.store.dlq;

/**
 * What one {@link DeadLetterQueue#replay} did. {@code attempted = stored + duplicates +
 * stillFailing + movedToDead}.
 *
 * <p>Immutable and thread-safe.
 *
 * @param attempted    entries tried
 * @param stored       entries whose event is stored now; they left the queue
 * @param duplicates   entries whose event was already stored; they left the queue
 * @param stillFailing entries refused again that stay queued with one more attempt
 * @param movedToDead  entries refused for the last allowed time, moved to the dead file
 */
public record ReplayReport(int attempted, int stored, int duplicates, int stillFailing, int movedToDead) {
}
