package dev.tally.store.correct;

import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;

/**
 * Counters of corrections since the store opened, read by {@code TallyMetrics}.
 *
 * <p>Thread-safe: every field is a {@link LongAdder}; the maps are filled once in the constructor.
 */
public final class CorrectionMetrics {
    /** What happened to one correction request. */
    public enum Outcome {
        /** Stored and in force. */
        APPLIED,
        /** Its correction id was stored before: nothing done. */
        DUPLICATE,
        /** It touched a closed period and was not forced: nothing done. */
        CLOSED_PERIOD,
        /** No event could be corrected: nothing stored. */
        NOTHING_TO_CORRECT;

        public String code() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    private final Map<Correction.Kind, Map<Outcome, LongAdder>> requests = new EnumMap<>(Correction.Kind.class);
    private final Map<Correction.Kind, LongAdder> events = new EnumMap<>(Correction.Kind.class);
    private final Map<CorrectionRejectReason, LongAdder> rejected = new EnumMap<>(CorrectionRejectReason.class);
    private final LongAdder forced = new LongAdder();

    CorrectionMetrics() {
        for (Correction.Kind k : Correction.Kind.values()) {
            Map<Outcome, LongAdder> m = new EnumMap<>(Outcome.class);
            for (Outcome o : Outcome.values()) {
                m.put(o, new LongAdder());
            }
            requests.put(k, m);
            events.put(k, new LongAdder());
        }
        for (CorrectionRejectReason r : CorrectionRejectReason.values()) {
            rejected.put(r, new LongAdder());
        }
    }

    void record(Correction.Kind kind, Outcome outcome, CorrectionResult result) {
        requests.get(kind).get(outcome).increment();
        if (result != null && outcome == Outcome.APPLIED) {
            events.get(kind).add(result.events());
            if (!result.forcedPeriods().isEmpty()) {
                forced.increment();
            }
        }
        if (result != null && outcome != Outcome.DUPLICATE) { // a duplicate repeats the stored rejections
            result.rejected().forEach(r -> rejected.get(r.reason()).increment());
        }
    }

    /** Correction requests of {@code kind} that ended with {@code outcome}. */
    public long requests(Correction.Kind kind, Outcome outcome) {
        return requests.get(kind).get(outcome).sum();
    }

    /** Events voided or amended by corrections of {@code kind}. */
    public long events(Correction.Kind kind) {
        return events.get(kind).sum();
    }

    /** Ids of correction requests not corrected, by reason. */
    public long rejected(CorrectionRejectReason reason) {
        return rejected.get(reason).sum();
    }

    /** Corrections applied to a closed period by force. */
    public long forced() {
        return forced.sum();
    }
}
