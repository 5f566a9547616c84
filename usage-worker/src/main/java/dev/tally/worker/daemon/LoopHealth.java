package dev.tally.worker.daemon;

import java.time.Instant;

/**
 * How one background loop is doing, for {@code /readyz}, {@code /metrics} and the logs.
 *
 * @param name                the loop's name ({@code import}, {@code maintenance})
 * @param passes              passes that completed
 * @param failures            passes that threw, in total
 * @param consecutiveFailures passes that threw in a row (0 when the last pass completed)
 * @param lastError           the last failure's message, or empty
 * @param lastSuccess         when the last pass completed (null before the first)
 * @param lastFailure         when the last pass failed (null if none did)
 * @param running             whether the loop's thread is still running
 */
public record LoopHealth(String name, long passes, long failures, int consecutiveFailures, String lastError,
        Instant lastSuccess, Instant lastFailure, boolean running) {

    /** Whether the last pass failed. */
    public boolean failing() {
        return consecutiveFailures > 0;
    }
}
