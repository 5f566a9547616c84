package dev.tally.store;

/** Why retention or maintenance removed (or would remove) a file. Every deletion is logged with one. */
public enum RetentionReason {
    /** Sealed detail whose newest event is older than {@code detailRetention}. */
    DETAIL_EXPIRED,
    /** Hourly rollups whose newest hour is older than {@code rollupRetention}. */
    ROLLUP_EXPIRED,
    /**
     * The active segment's newest event is older than {@code detailRetention}: it is rolled under
     * the write gate and sealed; its detail is dropped part by part only where every row is
     * expired, so a current row appended meanwhile is kept.
     */
    ACTIVE_SEGMENT_EXPIRED,
    /** The active segment is older than {@code maxSegmentAge}: rolled and sealed. */
    ACTIVE_SEGMENT_AGED,
    /** A file in the store's folders that no manifest or segment names, older than the grace period. */
    ORPHAN
}
