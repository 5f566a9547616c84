package dev.tally.store.correct;

import java.math.BigDecimal;
import java.util.Map;

/**
 * One line of the forced-corrections report: a correction that changed an invoiced period.
 *
 * @param correction   the correction (who, when, why, which periods)
 * @param eventsDelta  change of the event count (negative for voids)
 * @param valueDeltas  change of the sum of every top-level numeric {@code data} property it touched
 */
public record ForcedCorrection(CorrectionRecord correction, long eventsDelta, Map<String, BigDecimal> valueDeltas) {
    public ForcedCorrection {
        valueDeltas = Map.copyOf(valueDeltas);
    }
}
