package dev.tally.store.repair;

import java.util.List;

/**
 * What a repair did and what could not be saved.
 *
 * @param actions every change made, in order
 * @param losses  data that is gone or set aside, said plainly (empty when nothing was lost)
 */
public record RepairReport(List<String> actions, List<String> losses) {
    public RepairReport {
        actions = List.copyOf(actions);
        losses = List.copyOf(losses);
    }
}
