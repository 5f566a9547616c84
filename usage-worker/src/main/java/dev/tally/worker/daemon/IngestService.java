package dev.tally.worker.daemon;

import dev.tally.store.EventRejectedException;
import dev.tally.store.EventRules;
import dev.tally.store.RejectReason;
import dev.tally.store.Rejection;
import dev.tally.store.StoreConfig;
import dev.tally.store.StoreException;
import dev.tally.store.ValidEvent;
import dev.tally.store.journal.Journal;
import dev.tally.worker.http.ApiBackend;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Consumer;

/**
 * Takes events from the HTTP API, validated by its parser with every clock-free rule of
 * {@link EventRules}: checks their time bounds, writes those in bounds to the journal as canonical
 * records (which the import does not validate again) and returns once they are durable. The import
 * loop then moves them into the store, where duplicates by tenant and id are dropped.
 *
 * <p>Thread-safe: concurrent posts share the journal's group commit.
 */
public final class IngestService {
    private final Journal journal;
    private final EventRules rules;
    private final Clock clock;
    private final Runnable onDurable;
    private final Consumer<RuntimeException> onJournalFailure;
    private final LongAdder journaled = new LongAdder();
    private final Map<RejectReason, LongAdder> rejected = new EnumMap<>(RejectReason.class);

    /**
     * @param onDurable        called after events were made durable (the worker wakes the import loop)
     * @param onJournalFailure called with a journal failure before it is rethrown (the worker
     *                         checks whether it is fatal)
     */
    public IngestService(Journal journal, StoreConfig storeConfig, Clock clock, Runnable onDurable,
            Consumer<RuntimeException> onJournalFailure) {
        this.journal = journal;
        this.rules = EventRules.of(storeConfig);
        this.clock = clock;
        this.onDurable = onDurable;
        this.onJournalFailure = onJournalFailure;
        for (RejectReason r : RejectReason.values()) {
            rejected.put(r, new LongAdder());
        }
    }

    /**
     * Checks time bounds and journals. Rejections from parsing keep their place; valid events are
     * written in one journal append.
     *
     * @throws StoreException when the journal cannot take them; nothing was acknowledged
     */
    public ApiBackend.IngestResult ingest(List<ValidEvent> events, List<Rejection> parseRejections) {
        Instant now = clock.instant();
        List<Rejection> rejections = new ArrayList<>(parseRejections);
        List<ValidEvent> valid = new ArrayList<>(events.size());
        for (int i = 0; i < events.size(); i++) {
            ValidEvent e = events.get(i);
            if (e == null) {
                continue;
            }
            try {
                rules.checkTime(e.time(), now); // the parser checked every other rule
                valid.add(e);
            } catch (EventRejectedException x) {
                rejections.add(new Rejection(i, e.id(), x.reason(), x.getMessage()));
            }
        }
        rejections.sort((a, b) -> Integer.compare(a.index(), b.index()));
        if (!valid.isEmpty()) {
            try {
                journal.appendValid(valid);
            } catch (EventRejectedException x) {
                // Cannot happen after validation (data is at most 64 KiB); refuse the request as a whole.
                throw new StoreException("the journal refused the batch: " + x.getMessage());
            } catch (RuntimeException x) {
                onJournalFailure.accept(x);
                throw x;
            }
            journaled.add(valid.size());
            onDurable.run();
        }
        for (Rejection r : rejections) {
            rejected.get(r.reason()).increment();
        }
        return new ApiBackend.IngestResult(valid.size(), rejections);
    }

    /**
     * Journals one correction and returns once it is durable; the import loop (woken now) applies
     * it after every event journaled before it.
     *
     * @throws IllegalArgumentException when it cannot be written as a record (the codec's message)
     * @throws StoreException           when the journal cannot take it; nothing was acknowledged
     */
    public void journalCorrection(dev.tally.store.correct.Correction correction) {
        try {
            journal.appendCorrection(correction);
        } catch (IllegalArgumentException x) {
            throw x;
        } catch (RuntimeException x) {
            onJournalFailure.accept(x);
            throw x;
        }
        onDurable.run();
    }

    /** Events written to the journal through the API. */
    public long journaled() {
        return journaled.sum();
    }

    /** Events the API refused, for one reason. */
    public long rejected(RejectReason reason) {
        return rejected.get(reason).sum();
    }
}
