package dev.tally.store.journal;

import java.time.Duration;

/**
 * When an append is acknowledged relative to the fsync that makes it durable.
 *
 * <ul>
 *   <li>{@link #PER_BATCH} (the default): every write group is fsynced (fdatasync) before the lock
 *       is released and before any append in it returns. An acknowledged event survives a process
 *       crash, a kernel crash and a power loss.</li>
 *   <li>{@link #interval(Duration)}: an append returns as soon as its group is written to the file
 *       (the page cache); a background thread fsyncs the live journal every {@code every}.
 *       <b>Loss window:</b> an acknowledged event survives a crash of the process, but a kernel
 *       crash or power loss can lose every event acknowledged in roughly the last {@code every}
 *       (plus the time one fsync takes), from every process writing the journal. A rotation always
 *       fsyncs the journal before renaming it, so archives are never affected.</li>
 * </ul>
 *
 * <p>Thread-safe: immutable.
 */
public sealed interface FsyncPolicy permits FsyncPolicy.PerBatch, FsyncPolicy.Interval {

    /** Acknowledge only after the write group is fsynced. */
    FsyncPolicy PER_BATCH = PerBatch.INSTANCE;

    /** Shortest accepted interval. */
    Duration MIN_INTERVAL = Duration.ofMillis(1);
    /** Longest accepted interval: a longer loss window is not a journal any more. */
    Duration MAX_INTERVAL = Duration.ofSeconds(60);

    /** Acknowledge after the write; fsync in the background every {@code every}. */
    static FsyncPolicy interval(Duration every) {
        return new Interval(every);
    }

    /** See {@link FsyncPolicy#PER_BATCH}. */
    enum PerBatch implements FsyncPolicy {
        INSTANCE;

        @Override
        public String toString() {
            return "PER_BATCH";
        }
    }

    /**
     * See {@link FsyncPolicy#interval(Duration)}.
     *
     * @param every time between background fsyncs, from {@link #MIN_INTERVAL} to {@link #MAX_INTERVAL}
     */
    record Interval(Duration every) implements FsyncPolicy {
        public Interval {
            if (every == null || every.compareTo(MIN_INTERVAL) < 0 || every.compareTo(MAX_INTERVAL) > 0) {
                throw new IllegalArgumentException("fsyncPolicy.interval = " + every + " must be between "
                        + MIN_INTERVAL + " and " + MAX_INTERVAL);
            }
        }

        @Override
        public String toString() {
            return "INTERVAL(" + every + ")";
        }
    }
}
