package dev.tally.store.internal;

import dev.tally.store.RejectReason;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.atomic.LongAdder;

/**
 * Counters the store keeps for monitoring: events by outcome, seal and retention time, and time
 * spent waiting for the write gate.
 *
 * <p>Thread-safe: every field is a {@link LongAdder}.
 */
public final class StoreMetrics implements dev.tally.store.read.StoreStats {
    final LongAdder accepted = new LongAdder();
    final LongAdder duplicates = new LongAdder();
    final LongAdder seals = new LongAdder();
    final LongAdder sealNanos = new LongAdder();
    final LongAdder retentionNanos = new LongAdder();
    final LongAdder gateWaitNanos = new LongAdder();
    private final Map<RejectReason, LongAdder> rejected = new EnumMap<>(RejectReason.class);

    StoreMetrics() {
        for (RejectReason r : RejectReason.values()) {
            rejected.put(r, new LongAdder());
        }
    }

    void countRejected(RejectReason reason) {
        rejected.get(reason).increment();
    }

    public long accepted() {
        return accepted.sum();
    }

    public long duplicates() {
        return duplicates.sum();
    }

    public long rejected(RejectReason reason) {
        return rejected.get(reason).sum();
    }

    public long seals() {
        return seals.sum();
    }

    public double sealSeconds() {
        return sealNanos.sum() / 1e9;
    }

    public double retentionSeconds() {
        return retentionNanos.sum() / 1e9;
    }

    public double gateWaitSeconds() {
        return gateWaitNanos.sum() / 1e9;
    }
}
