package dev.tally.store;

import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;

/**
 * A tiered usage store: events are appended to an active DuckDB segment, sealed into immutable
 * Parquet parts with hourly rollups, and removed by retention. Reads span every tier.
 *
 * <p>Thread-safe. Appends are serialized by the store's write gate; reads never take it and run
 * concurrently with appends, seals and retention.
 */
public interface UsageStore extends AutoCloseable {

    /** Starts building a store rooted at {@code dataDir}. */
    static UsageStoreBuilder builder(Path dataDir) {
        return new UsageStoreBuilder(dataDir);
    }

    /**
     * Validates and stores a batch. Events that fail validation are reported in
     * {@link AppendResult#rejected()} and the valid ones are stored; duplicates (by tenant and id,
     * against every tier and within the batch) are counted and not stored. The stored events are
     * written in one transaction: if the write fails nothing is stored, no id is marked as seen,
     * and a {@link StoreException} is thrown.
     */
    AppendResult append(List<UsageEvent> events);

    /**
     * Like {@link #append(List)}, and commits {@code position} in the same transaction as the
     * rows, so the import position and the imported rows are durable together or not at all.
     */
    AppendResult append(List<UsageEvent> events, ImportPosition position);

    /**
     * Like {@link #append(List, ImportPosition)}, and hands the refused events to
     * {@code beforeCommit} first: an importer writes them to its dead-letter queue there, so the
     * position can never move past a line that is neither stored nor durably dead-lettered.
     */
    AppendResult append(List<UsageEvent> events, ImportPosition position, RejectionSink beforeCommit);

    /**
     * Like {@link #append(List, ImportPosition, RejectionSink)}, for events that passed
     * {@link EventRules#canonical} already (read from the journal's canonical records, or parsed by
     * the HTTP API): only the rules that depend on the clock (the time bounds) are checked again.
     * Refusals in the sink and the result index into {@code events}.
     */
    default AppendResult appendValid(List<ValidEvent> events, ImportPosition position, RejectionSink beforeCommit) {
        return append(events.stream().map(ValidEvent::event).toList(), position, beforeCommit);
    }

    /**
     * The newest segment sequence that holds rows: the active segment's, or the one before it
     * while the active segment is still empty. Every row appended so far is in that segment or a
     * lower one; with {@link #sealedThroughSeq()} it tells when rows appended before a moment are
     * all in Parquet (the importer keeps journal archives until then). 0 when there is none.
     */
    default long lastWrittenSeq() {
        return 0;
    }

    /**
     * The highest segment sequence whose rows are all sealed to Parquet parts (segments are sealed
     * in order). Rows of any segment at or below it survive the loss of the active segment.
     */
    default long sealedThroughSeq() {
        return 0;
    }

    /** The committed import positions, by source. */
    Map<String, ImportPosition> importPositions();

    /**
     * Deletes the committed positions of {@code sources}: files that are gone for good (reaped
     * journal archives), whose rows would otherwise be kept and copied into every new segment
     * forever. A source that comes back is imported from its start, which the store's
     * idempotency by id keeps exactly-once.
     *
     * @return how many positions were deleted
     */
    int forgetImportPositions(java.util.Collection<String> sources);

    /**
     * Count and exact sum of the JSON number at {@code valuePath} (e.g. {@code $.input_tokens})
     * over events of a tenant, type and subject with time in {@code [from, to)}, across all tiers.
     */
    Totals total(String tenant, String type, String subject, String valuePath, Instant from, Instant to);

    /**
     * Applies a correction (void, amend or range void; see {@link dev.tally.store.correct.Correction}):
     * every reader then answers as if the voided events were never stored and the amended ones had
     * their new values, in every tier. Appended atomically and idempotent by correction id. Ids
     * that cannot be corrected are reported one by one; a correction touching a closed period
     * throws {@link dev.tally.store.correct.ClosedPeriodException} unless forced. See
     * {@code docs/corrections.md}.
     */
    default dev.tally.store.correct.CorrectionResult correct(dev.tally.store.correct.Correction correction) {
        throw new UnsupportedOperationException("corrections are not supported by " + getClass().getName());
    }

    /**
     * Like {@link #correct}, and stores the correction even when it corrects nothing, so applying
     * it again is always a no-op by its correction id. The journal importer applies corrections
     * this way: a journal imported again (after a crash, or from its start) must not void events
     * journaled after the correction.
     */
    default dev.tally.store.correct.CorrectionResult correctOnce(dev.tally.store.correct.Correction correction) {
        throw new UnsupportedOperationException("corrections are not supported by " + getClass().getName());
    }

    /** Voids {@code ids} of {@code tenant} under a new correction id; see {@link #correct}. */
    default dev.tally.store.correct.CorrectionResult voidEvents(String tenant, List<String> ids, String reason) {
        return correct(dev.tally.store.correct.Correction.voidIds(java.util.UUID.randomUUID().toString(), tenant, ids,
                "", reason));
    }

    /**
     * Replaces the values of the event {@code (tenant, id)} with {@code replacement} (same tenant and
     * id; its time may move within its UTC day) under a new correction id; see {@link #correct}.
     */
    default dev.tally.store.correct.CorrectionResult amend(String tenant, String id, UsageEvent replacement,
            String reason) {
        if (replacement != null && (!java.util.Objects.equals(tenant, replacement.tenant())
                || !java.util.Objects.equals(id, replacement.id()))) {
            throw new IllegalArgumentException("replacement (" + replacement.tenant() + ", " + replacement.id()
                    + ") must keep the tenant and id (" + tenant + ", " + id + ")");
        }
        return correct(dev.tally.store.correct.Correction.amend(java.util.UUID.randomUUID().toString(), replacement,
                "", reason));
    }

    /**
     * Voids every event of {@code tenant} with time in {@code [from, to)}, of {@code subject} and
     * {@code type} when given (null for any), under a new correction id; see {@link #correct}.
     */
    default dev.tally.store.correct.CorrectionResult voidRange(String tenant, String subject, String type,
            Instant from, Instant to, String reason) {
        return correct(dev.tally.store.correct.Correction.voidRange(java.util.UUID.randomUUID().toString(), tenant,
                new dev.tally.store.correct.Correction.Range(subject, type, from, to), "", reason));
    }

    /** Every correction of {@code tenant}, oldest first. */
    default List<dev.tally.store.correct.CorrectionRecord> corrections(String tenant) {
        throw new UnsupportedOperationException("corrections are not supported by " + getClass().getName());
    }

    /**
     * Closes a month of {@code tenant} in {@code zone} (after invoicing it): later corrections
     * touching it are refused unless forced.
     */
    default dev.tally.store.correct.ClosedPeriod closePeriod(String tenant, java.time.YearMonth month,
            java.time.ZoneId zone, String actor) {
        throw new UnsupportedOperationException("closed periods are not supported by " + getClass().getName());
    }

    /** The closed periods of {@code tenant}. */
    default List<dev.tally.store.correct.ClosedPeriod> closedPeriods(String tenant) {
        throw new UnsupportedOperationException("closed periods are not supported by " + getClass().getName());
    }

    /** Every forced correction of {@code tenant}: what changed an invoiced period, by how much, who and why. */
    default List<dev.tally.store.correct.ForcedCorrection> forcedCorrections(String tenant) {
        throw new UnsupportedOperationException("corrections are not supported by " + getClass().getName());
    }

    /** Rolls the active segment now (if it holds rows) and seals every pending segment. */
    void sealNow();

    /**
     * One maintenance pass: roll the active segment if it is too old, seal pending segments,
     * apply retention, remove orphans, compact days that ended {@code compactAfter} ago. Returns
     * what retention removed.
     */
    RetentionReport maintain();

    /**
     * Merges the sealed parts of closed UTC days into one part per month (rollups) and per ISO
     * week (detail), as {@link #maintain()} does for days that ended at least
     * {@code compactAfter} ago. With {@code allClosedDays}, every day before today (UTC) is
     * eligible, whatever {@code compactAfter} says.
     */
    CompactionReport compact(boolean allClosedDays);

    /** Runs retention once; with {@code dryRun} only reports what would go and why. */
    RetentionReport retention(boolean dryRun);

    /** Every tier's segments and parts. */
    List<SegmentInfo> segments();

    /** The settings the store was built with. */
    StoreConfig config();

    /** Checkpoints the active segment and releases files and locks. Pending segments are sealed on next open. */
    @Override
    void close();
}
