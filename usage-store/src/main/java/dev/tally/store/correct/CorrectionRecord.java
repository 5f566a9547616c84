package dev.tally.store.correct;

import java.time.Instant;
import java.util.List;

/**
 * One stored correction, as listed for an audit.
 *
 * @param seq           order of appending (1, 2, ...)
 * @param correctionId  the caller's id
 * @param tenant        whose events it corrected
 * @param kind          void, amend or range void
 * @param at            when it was appended (store clock)
 * @param actor         who asked
 * @param reason        why
 * @param forced        true when it was applied to a closed period by force
 * @param forcedPeriods the closed periods it touched by force
 * @param events        how many events it voided or amended
 * @param request       the request as JSON (ids, replacement or range)
 */
public record CorrectionRecord(long seq, String correctionId, String tenant, Correction.Kind kind, Instant at,
        String actor, String reason, boolean forced, List<String> forcedPeriods, long events, String request) {
    public CorrectionRecord {
        forcedPeriods = List.copyOf(forcedPeriods);
    }
}
