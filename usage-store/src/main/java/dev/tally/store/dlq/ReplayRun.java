package dev.tally.store.dlq;

import dev.tally.store.AppendResult;
import dev.tally.store.EventCodec;
import dev.tally.store.EventRejectedException;
import dev.tally.store.RejectReason;
import dev.tally.store.Rejection;
import dev.tally.store.StoreException;
import dev.tally.store.ValidEvent;
import dev.tally.store.UsageStore;
import dev.tally.store.correct.ClosedPeriodException;
import dev.tally.store.correct.CorrectionCodec;
import dev.tally.store.correct.CorrectionRefusedException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One replay pass over the queued entries: parses and validates each original line once
 * ({@link EventCodec#parseValid}; the store re-checks only the time bounds) and appends the events to
 * the store in batches of {@link DeadLetterQueue#REPLAY_BATCH}, and says what became of each entry.
 * A journaled correction's entry is applied again with {@link UsageStore#correctOnce} (after the
 * events of its batch): settled once stored or found stored before; a closed period, a malformed
 * correction or a tenant still not owned fails again.
 * It changes no file; {@link DeadLetterQueue} applies the outcome.
 *
 * <p>Not thread-safe: runs on the caller's thread while the caller holds the queue lock, over a
 * list the lock guards.
 *
 * @param outcome    entry index to its updated entry (one more failed attempt), or to null when it
 *                   is settled (stored, or already stored); entries not in the map are untouched
 * @param stored     events the store accepted
 * @param duplicates events the store already had
 * @param failure    the store failure that stopped the pass (the failed batch is not in
 *                   {@code outcome}), or null
 */
record ReplayRun(Map<Integer, DeadLetter> outcome, int stored, int duplicates, StoreException failure) {
    private static final Logger LOG = LoggerFactory.getLogger(ReplayRun.class);

    static ReplayRun run(List<DeadLetter> live, UsageStore store, Instant now) {
        Map<Integer, DeadLetter> outcome = new LinkedHashMap<>();
        int stored = 0;
        int duplicates = 0;
        for (int from = 0; from < live.size(); from += DeadLetterQueue.REPLAY_BATCH) {
            int to = Math.min(live.size(), from + DeadLetterQueue.REPLAY_BATCH);
            List<ValidEvent> events = new ArrayList<>();
            List<Integer> eventEntry = new ArrayList<>();
            List<Integer> correctionEntry = new ArrayList<>();
            Map<Integer, DeadLetter> batchOutcome = new LinkedHashMap<>();
            for (int i = from; i < to; i++) {
                DeadLetter e = live.get(i);
                if (e.truncated()) {
                    batchOutcome.put(i, e.failedAgain(e.reason(), e.message(), now));
                    continue;
                }
                if (isCorrection(e)) {
                    correctionEntry.add(i); // applied after this batch's events, as the journal orders them
                    continue;
                }
                byte[] original = e.originalBytes();
                try {
                    events.add(EventCodec.parseValid(original, 0, original.length));
                    eventEntry.add(i);
                } catch (EventRejectedException ex) {
                    batchOutcome.put(i, e.failedAgain(ex.reason(), ex.getMessage(), now));
                }
            }
            if (!events.isEmpty()) {
                AppendResult r;
                try {
                    r = store.appendValid(events, null, rejections -> { });
                } catch (StoreException ex) {
                    return new ReplayRun(outcome, stored, duplicates, ex);
                }
                stored += r.accepted();
                duplicates += r.duplicates();
                Set<Integer> refused = new HashSet<>();
                for (Rejection rej : r.rejected()) {
                    if (rej.index() < 0 || rej.index() >= eventEntry.size()) {
                        LOG.warn("the store reported a rejection at index {} of a batch of {}; ignored",
                                rej.index(), eventEntry.size());
                        continue;
                    }
                    int i = eventEntry.get(rej.index());
                    refused.add(i);
                    batchOutcome.put(i, live.get(i).failedAgain(rej.reason(), rej.message(), now));
                }
                for (int i : eventEntry) {
                    if (!refused.contains(i)) {
                        batchOutcome.put(i, null);
                    }
                }
            }
            for (int i : correctionEntry) {
                DeadLetter e = live.get(i);
                try {
                    // Stored or stored before (a duplicate by its id): settled, like an event.
                    store.correctOnce(CorrectionCodec.parse(e.text()));
                    batchOutcome.put(i, null);
                } catch (ClosedPeriodException ex) {
                    batchOutcome.put(i, e.failedAgain(RejectReason.CLOSED_PERIOD, ex.getMessage(), now));
                } catch (CorrectionRefusedException ex) {
                    batchOutcome.put(i, e.failedAgain(ex.reason(), ex.getMessage(), now));
                } catch (IllegalArgumentException ex) {
                    batchOutcome.put(i, e.failedAgain(RejectReason.INVALID_CORRECTION, ex.getMessage(), now));
                } catch (StoreException ex) {
                    outcome.putAll(batchOutcome);
                    return new ReplayRun(outcome, stored, duplicates, ex);
                }
            }
            outcome.putAll(batchOutcome);
        }
        return new ReplayRun(outcome, stored, duplicates, null);
    }

    /**
     * Whether an entry holds a journaled correction: the journal importer dead-letters one with
     * its record's JSON, which {@link CorrectionCodec#toJson} always starts with its id field.
     */
    static boolean isCorrection(DeadLetter e) {
        return e.text() != null && e.text().startsWith("{\"correction_id\":");
    }
}
