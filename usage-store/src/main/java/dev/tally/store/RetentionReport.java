package dev.tally.store;

import java.time.Instant;
import java.util.List;

/**
 * What one retention pass removed, or in a dry run would remove.
 *
 * @param dryRun  whether anything was actually changed
 * @param ranAt   the clock's time the pass used for its cutoffs
 * @param actions each file removed or segment rolled, with its reason
 */
public record RetentionReport(boolean dryRun, Instant ranAt, List<Action> actions) {
    public RetentionReport {
        actions = List.copyOf(actions);
    }

    /**
     * One removal.
     *
     * @param reason why
     * @param path   what, relative to the data directory
     * @param rows   rows it held (0 for orphans)
     * @param detail the cutoff or age that made it go
     */
    public record Action(RetentionReason reason, String path, long rows, String detail) {
    }
}
