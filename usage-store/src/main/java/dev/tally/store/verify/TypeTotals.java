package dev.tally.store.verify;

import java.util.Objects;

/**
 * Totals of one tenant and event type, from the sources and from the store.
 *
 * <p>Immutable and thread-safe.
 *
 * @param tenant    the tenant
 * @param type      the event type
 * @param expected  what the sources say the store must hold: every distinct source event (first
 *                  line of each tenant and id) classified unchanged, changed or missing, with its
 *                  source values
 * @param stored    what the store holds for those same events (unchanged and changed), with its
 *                  stored values; equal to {@code expected} when nothing drifted
 * @param storeOnly stored events no source line on disk names (their journal was reaped, or they
 *                  were appended directly); not comparable, shown so the store's whole content is
 *                  accounted for
 */
public record TypeTotals(String tenant, String type, Tally expected, Tally stored, Tally storeOnly) {
    public TypeTotals {
        Objects.requireNonNull(expected, "expected");
        Objects.requireNonNull(stored, "stored");
        Objects.requireNonNull(storeOnly, "storeOnly");
    }

    /** Whether the stored totals equal the expected ones. */
    public boolean matches() {
        return expected.sameAs(stored);
    }
}
