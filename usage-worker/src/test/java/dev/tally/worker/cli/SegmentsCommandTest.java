package dev.tally.worker.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tally.store.SegmentInfo;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

class SegmentsCommandTest {
    private static SegmentInfo info(SegmentInfo.State state, long rows) {
        Instant t = Instant.parse("2026-11-20T00:00:00Z");
        return new SegmentInfo(state, 1, "x", t, t, rows, 10);
    }

    /** The events total counts active, pending and sealed detail rows; never rollups or quarantined parts. */
    @Test
    void detailRows_quarantinedAndRollupRows_notCounted() {
        assertEquals(1 + 20 + 300, SegmentsCommand.detailRows(List.of(info(SegmentInfo.State.ACTIVE, 1),
                info(SegmentInfo.State.PENDING, 20), info(SegmentInfo.State.SEALED_DETAIL, 300),
                info(SegmentInfo.State.SEALED_ROLLUP, 4000), info(SegmentInfo.State.QUARANTINED, 50000))));
    }
}
