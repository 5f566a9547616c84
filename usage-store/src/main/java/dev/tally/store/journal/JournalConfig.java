package dev.tally.store.journal;

import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;

/**
 * The settings of one journal. Immutable and always valid: the canonical constructor checks every
 * value, and {@link Builder} checks each one as it is set. A bad value is refused with an
 * {@link IllegalArgumentException} naming the setting and the value.
 *
 * <p>Thread-safe: immutable.
 *
 * @param dir             root folder; the journal files live in its {@code journal/} sub-directory
 *                        (see {@link JournalFiles})
 * @param fsyncPolicy     when appends are acknowledged; default {@link FsyncPolicy#PER_BATCH}
 * @param maxJournalBytes rotate the live journal before a write group would take it past this
 *                        size; at least {@value #MIN_JOURNAL_BYTES}; default 64 MiB. A single group
 *                        larger than this still goes into one (new) file.
 * @param maxJournalAge   rotate the live journal once it is this old, measured with {@code clock}
 *                        from when this process first saw it non-empty; default 1 hour
 * @param maxRecordBytes  longest record line accepted on append (checksum prefix included, the
 *                        newline not); from {@value #MIN_RECORD_BYTES} to
 *                        {@value #MAX_RECORD_BYTES}; default {@value #DEFAULT_MAX_RECORD_BYTES},
 *                        the reader's default line limit
 * @param clock           the time source for rotation age and archive names; injected by tests
 */
public record JournalConfig(
        Path dir,
        FsyncPolicy fsyncPolicy,
        long maxJournalBytes,
        Duration maxJournalAge,
        int maxRecordBytes,
        Clock clock) {

    public static final long DEFAULT_MAX_JOURNAL_BYTES = 64L * 1024 * 1024;
    public static final Duration DEFAULT_MAX_JOURNAL_AGE = Duration.ofHours(1);
    public static final int DEFAULT_MAX_RECORD_BYTES = JournalReader.DEFAULT_MAX_LINE_BYTES;
    public static final long MIN_JOURNAL_BYTES = 1024;
    public static final int MIN_RECORD_BYTES = 256;
    public static final int MAX_RECORD_BYTES = 64 * 1024 * 1024;

    public JournalConfig {
        checkDir(dir);
        checkPolicy(fsyncPolicy);
        checkMaxJournalBytes(maxJournalBytes);
        checkMaxJournalAge(maxJournalAge);
        checkMaxRecordBytes(maxRecordBytes);
        checkClock(clock);
    }

    /** A builder with every default set; only {@code dir} is required. */
    public static Builder builder(Path dir) {
        return new Builder(dir);
    }

    /** The layout of the files below {@link #dir()}. */
    public JournalFiles files() {
        return new JournalFiles(dir);
    }

    /** Builds a {@link JournalConfig}; each setter refuses a bad value at once. Not thread-safe. */
    public static final class Builder {
        private final Path dir;
        private FsyncPolicy fsyncPolicy = FsyncPolicy.PER_BATCH;
        private long maxJournalBytes = DEFAULT_MAX_JOURNAL_BYTES;
        private Duration maxJournalAge = DEFAULT_MAX_JOURNAL_AGE;
        private int maxRecordBytes = DEFAULT_MAX_RECORD_BYTES;
        private Clock clock = Clock.systemUTC();

        private Builder(Path dir) {
            this.dir = checkDir(dir);
        }

        public Builder fsyncPolicy(FsyncPolicy policy) {
            this.fsyncPolicy = checkPolicy(policy);
            return this;
        }

        public Builder maxJournalBytes(long bytes) {
            this.maxJournalBytes = checkMaxJournalBytes(bytes);
            return this;
        }

        public Builder maxJournalAge(Duration age) {
            this.maxJournalAge = checkMaxJournalAge(age);
            return this;
        }

        public Builder maxRecordBytes(int bytes) {
            this.maxRecordBytes = checkMaxRecordBytes(bytes);
            return this;
        }

        public Builder clock(Clock clock) {
            this.clock = checkClock(clock);
            return this;
        }

        public JournalConfig build() {
            return new JournalConfig(dir, fsyncPolicy, maxJournalBytes, maxJournalAge, maxRecordBytes, clock);
        }
    }

    private static Path checkDir(Path dir) {
        if (dir == null) {
            throw new IllegalArgumentException("dir = null: the journal needs a directory");
        }
        return dir;
    }

    private static FsyncPolicy checkPolicy(FsyncPolicy policy) {
        if (policy == null) {
            throw new IllegalArgumentException("fsyncPolicy = null: use FsyncPolicy.PER_BATCH or FsyncPolicy.interval(...)");
        }
        return policy;
    }

    private static long checkMaxJournalBytes(long bytes) {
        if (bytes < MIN_JOURNAL_BYTES) {
            throw new IllegalArgumentException("maxJournalBytes = " + bytes + " must be at least " + MIN_JOURNAL_BYTES);
        }
        return bytes;
    }

    private static Duration checkMaxJournalAge(Duration age) {
        if (age == null || age.isNegative() || age.isZero()) {
            throw new IllegalArgumentException("maxJournalAge = " + age + " must be positive");
        }
        return age;
    }

    private static int checkMaxRecordBytes(int bytes) {
        if (bytes < MIN_RECORD_BYTES || bytes > MAX_RECORD_BYTES) {
            throw new IllegalArgumentException("maxRecordBytes = " + bytes + " must be between " + MIN_RECORD_BYTES
                    + " and " + MAX_RECORD_BYTES);
        }
        return bytes;
    }

    private static Clock checkClock(Clock clock) {
        if (clock == null) {
            throw new IllegalArgumentException("clock = null: the journal needs a clock");
        }
        return clock;
    }
}
