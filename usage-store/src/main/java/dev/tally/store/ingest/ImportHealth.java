package dev.tally.store.ingest;

import java.time.Instant;

/**
 * How the import loop is doing, for {@code /readyz} and {@code /metrics}.
 *
 * @param lastSuccess         end of the last pass that completed (null before the first)
 * @param lastAttempt         start of the last pass
 * @param consecutiveFailures passes that failed in a row (0 when healthy)
 * @param lastError           the last failure's message, or empty
 * @param lagBytes            bytes of journal and spool files not yet imported
 * @param lagSeconds          seconds since the oldest source with unimported bytes was last written
 *                            (0 when there is no lag)
 */
public record ImportHealth(Instant lastSuccess, Instant lastAttempt, int consecutiveFailures, String lastError,
        long lagBytes, double lagSeconds) {
}
