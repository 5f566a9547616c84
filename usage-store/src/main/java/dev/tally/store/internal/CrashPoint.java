package dev.tally.store.internal;

/**
 * Named steps of rollover, seal, retention and compaction where a test may stop the process (a
 * child JVM killed there, or a simulated crash by throwing), to prove that recovery restores every
 * row exactly once from the state left on disk. Production uses {@link #NONE}.
 */
@FunctionalInterface
public interface CrashPoint {
    CrashPoint NONE = step -> { };

    /** Rollover: the old segment is checkpointed, the new one not yet created. */
    String ROLLOVER_CHECKPOINTED = "rollover.checkpointed";
    /** Rollover: the new segment exists; the old one is pending. */
    String ROLLOVER_CREATED = "rollover.created";
    /** Seal: a part is written under its .tmp name and forced. */
    String SEAL_PART_TMP = "seal.part-tmp";
    /** Seal: a detail part's key sidecar is in place; the part is still under its .tmp name. */
    String SEAL_KEYS_WRITTEN = "seal.keys-written";
    /** Seal: every part is renamed into place; the manifest does not name them yet. */
    String SEAL_PARTS_RENAMED = "seal.parts-renamed";
    /** Seal: the manifest names the parts; the segment file still exists. */
    String SEAL_PUBLISHED = "seal.published";
    /** Retention: the manifest no longer names the expired parts; their files still exist. */
    String RETENTION_PUBLISHED = "retention.published";

    /** Compaction: the merged part is written under its .tmp name and forced, not verified. */
    String COMPACT_PART_TMP = "compact.part-tmp";
    /** Compaction: the merged part is verified and renamed into place; the manifest does not name it. */
    String COMPACT_PART_RENAMED = "compact.part-renamed";
    /** Compaction: the manifest names the merged part instead of its sources; the sources still exist. */
    String COMPACT_PUBLISHED = "compact.published";

    void at(String step);
}
