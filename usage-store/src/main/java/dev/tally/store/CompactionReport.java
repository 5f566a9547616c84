package dev.tally.store;

import java.time.Instant;
import java.time.LocalDate;
import java.util.List;

/**
 * What one compaction pass merged. Immutable.
 *
 * @param ranAt   the clock's time the pass used
 * @param lastDay the last UTC day whose sealed parts were eligible
 * @param units   each merged part written, in the order published
 */
public record CompactionReport(Instant ranAt, LocalDate lastDay, List<Unit> units) {
    public CompactionReport {
        units = List.copyOf(units);
    }

    /**
     * One merged part.
     *
     * @param kind    {@code DETAIL} or {@code ROLLUP}
     * @param path    the merged part, relative to the data directory
     * @param sources how many published parts it replaced
     * @param rows    rows it holds
     * @param bytes   its size
     */
    public record Unit(String kind, String path, int sources, long rows, long bytes) {
    }

    /** How many published parts the pass replaced. */
    public int sourcesReplaced() {
        return units.stream().mapToInt(Unit::sources).sum();
    }
}
