package dev.tally.store.correct;

import java.util.List;

/**
 * What a correction did.
 *
 * @param correctionId the correction's id
 * @param duplicate    true when this correction id was stored before: nothing was done again
 * @param events       how many events it voided or amended
 * @param rejected     the ids it did not correct, one by one
 * @param forcedPeriods the closed periods it touched because it was forced (empty otherwise)
 */
public record CorrectionResult(String correctionId, boolean duplicate, long events, List<CorrectionRejection> rejected,
        List<String> forcedPeriods) {
    public CorrectionResult {
        rejected = List.copyOf(rejected);
        forcedPeriods = List.copyOf(forcedPeriods);
    }
}
