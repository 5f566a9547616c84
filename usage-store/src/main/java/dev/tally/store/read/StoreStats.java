package dev.tally.store.read;

import dev.tally.store.RejectReason;

/** Counters a store keeps for monitoring. Implementations are thread-safe. */
public interface StoreStats {
    long accepted();

    long duplicates();

    long rejected(RejectReason reason);

    long seals();

    double sealSeconds();

    double retentionSeconds();

    double gateWaitSeconds();
}
