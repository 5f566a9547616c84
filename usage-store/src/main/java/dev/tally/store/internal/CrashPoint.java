package dev.tally.store.internal;

/**
 * A test seam at the named steps of rollover, seal, retention and compaction ({@link Step}) where
 * a test may stop the process (a child JVM killed there, or a simulated crash by throwing), to prove
 * that recovery restores every row exactly once from the state left on disk. Production uses
 * {@link #NONE}.
 *
 * <p>Implementations are called on the thread doing the step, under whatever lock that step holds
 * (the write gate for rollover, the maintenance lock for the rest); they must be thread-safe if a
 * test shares one between stores.
 */
@FunctionalInterface
public interface CrashPoint {
    CrashPoint NONE = step -> { };

    /** Which job a step belongs to. */
    enum Phase {
        ROLLOVER, SEAL, RETENTION, COMPACTION, CORRECTION
    }

    /** The steps, in the order a store passes them within each phase. */
    enum Step {
        /** Rollover: the old segment is checkpointed, the new one not yet created. */
        ROLLOVER_CHECKPOINTED(Phase.ROLLOVER),
        /** Rollover: the new segment exists; the old one is pending. */
        ROLLOVER_CREATED(Phase.ROLLOVER),
        /** Seal: a part is written under its .tmp name and forced. */
        SEAL_PART_TMP(Phase.SEAL),
        /** Seal: a detail part's key sidecar is in place; the part is still under its .tmp name. */
        SEAL_KEYS_WRITTEN(Phase.SEAL),
        /** Seal: every part is renamed into place; the manifest does not name them yet. */
        SEAL_PARTS_RENAMED(Phase.SEAL),
        /** Seal: the manifest names the parts; the segment file still exists. */
        SEAL_PUBLISHED(Phase.SEAL),
        /** Retention: the manifest no longer names the expired parts; their files still exist. */
        RETENTION_PUBLISHED(Phase.RETENTION),
        /** Compaction: the merged part is written under its .tmp name and forced, not verified. */
        COMPACT_PART_TMP(Phase.COMPACTION),
        /** Compaction: the merged part is verified and renamed into place; the manifest does not name it. */
        COMPACT_PART_RENAMED(Phase.COMPACTION),
        /** Compaction: the manifest names the merged part instead of its sources; the sources still exist. */
        COMPACT_PUBLISHED(Phase.COMPACTION),
        /** Correction: its record and effects are written, the transaction not yet committed. */
        CORRECTION_BEFORE_COMMIT(Phase.CORRECTION),
        /** Correction: committed; nothing else is left to do (readers apply it from the record). */
        CORRECTION_APPENDED(Phase.CORRECTION);

        private final Phase phase;

        Step(Phase phase) {
            this.phase = phase;
        }

        public Phase phase() {
            return phase;
        }
    }

    // Short names for the steps, so a call site reads crash.at(CrashPoint.SEAL_PUBLISHED).
    Step ROLLOVER_CHECKPOINTED = Step.ROLLOVER_CHECKPOINTED;
    Step ROLLOVER_CREATED = Step.ROLLOVER_CREATED;
    Step SEAL_PART_TMP = Step.SEAL_PART_TMP;
    Step SEAL_KEYS_WRITTEN = Step.SEAL_KEYS_WRITTEN;
    Step SEAL_PARTS_RENAMED = Step.SEAL_PARTS_RENAMED;
    Step SEAL_PUBLISHED = Step.SEAL_PUBLISHED;
    Step RETENTION_PUBLISHED = Step.RETENTION_PUBLISHED;
    Step COMPACT_PART_TMP = Step.COMPACT_PART_TMP;
    Step COMPACT_PART_RENAMED = Step.COMPACT_PART_RENAMED;
    Step COMPACT_PUBLISHED = Step.COMPACT_PUBLISHED;
    Step CORRECTION_BEFORE_COMMIT = Step.CORRECTION_BEFORE_COMMIT;
    Step CORRECTION_APPENDED = Step.CORRECTION_APPENDED;

    /** Called when the store reaches {@code step}. */
    void at(Step step);
}
