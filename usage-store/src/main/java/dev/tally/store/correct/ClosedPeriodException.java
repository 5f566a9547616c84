package dev.tally.store.correct;

import dev.tally.store.StoreException;
import java.util.List;

/** A correction touched a closed period and was not forced: nothing was corrected. */
public final class ClosedPeriodException extends StoreException {
    private final List<String> periods;

    public ClosedPeriodException(String correctionId, List<String> periods) {
        super("correction '" + correctionId + "' touches the closed period" + (periods.size() == 1 ? " " : "s ")
                + String.join(", ", periods) + "; nothing was corrected. Send it with force to change an invoiced "
                + "period (it is then listed in the forced-corrections report)");
        this.periods = List.copyOf(periods);
    }

    /** The closed periods it touched, e.g. {@code acme 2026-11 (UTC)}. */
    public List<String> periods() {
        return periods;
    }
}
