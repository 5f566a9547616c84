package dev.tally.store.journal;

import java.math.BigInteger;
import java.nio.file.Path;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The journal's file layout and every file name it uses, named once here.
 *
 * <pre>
 * dir/
 *   journal/journal.wal                         the live journal: appended to, never rewritten
 *                                               except to cut a torn tail
 *   journal/journal.lock                        dedicated lock file, never deleted; holds the
 *                                               number of the last archive created (text)
 *   journal/journal-0001763600000123456789.wal  a rotated archive: immutable, imported in name
 *                                               order, reaped once fully imported
 * </pre>
 *
 * <p>An archive's number is the epoch nanoseconds of its rotation, zero-padded to
 * {@value #ARCHIVE_NUMBER_DIGITS} digits. When that number is not above the highest number
 * already used (two rotations within one clock tick, or a clock that stepped back), the highest
 * used number plus one is taken instead, so names never collide, never repeat and sort in
 * rotation order.
 *
 * <p>Only names matching {@code journal-\d+\.wal} exactly are archives; this can never match the
 * live journal or the lock file.
 *
 * <p>Thread-safe: immutable.
 */
public final class JournalFiles {
    /** Sub-directory of the configured dir that holds every journal file. */
    public static final String JOURNAL_DIR = "journal";
    /** The live journal that appends go to. */
    public static final String LIVE_FILE = "journal.wal";
    /** The lock file writers take an exclusive lock on; never deleted. */
    public static final String LOCK_FILE = "journal.lock";
    /** Archive names are {@code ARCHIVE_PREFIX + number + ARCHIVE_SUFFIX}. */
    public static final String ARCHIVE_PREFIX = "journal-";
    public static final String ARCHIVE_SUFFIX = ".wal";
    /** Digits of a newly written archive number (enough for any epoch-nanos {@code long}). */
    public static final int ARCHIVE_NUMBER_DIGITS = 19;

    /** Exactly the names of rotated archives; nothing else in the directory may ever match. */
    static final Pattern ARCHIVE_NAME = Pattern.compile("journal-(\\d+)\\.wal");

    private final Path root;
    private final Path journalDir;

    /** @param root the configured dir; the journal lives in its {@value #JOURNAL_DIR} sub-directory */
    public JournalFiles(Path root) {
        this.root = root;
        this.journalDir = root.resolve(JOURNAL_DIR);
    }

    public Path root() {
        return root;
    }

    public Path journalDir() {
        return journalDir;
    }

    public Path liveFile() {
        return journalDir.resolve(LIVE_FILE);
    }

    public Path lockFile() {
        return journalDir.resolve(LOCK_FILE);
    }

    /** The path of archive number {@code number}. */
    public Path archive(long number) {
        return journalDir.resolve(archiveName(number));
    }

    /** {@code journal-<number zero-padded to 19 digits>.wal}. */
    public static String archiveName(long number) {
        if (number < 0) {
            throw new IllegalArgumentException("archive number = " + number + " must not be negative");
        }
        return ARCHIVE_PREFIX + String.format("%0" + ARCHIVE_NUMBER_DIGITS + "d", number) + ARCHIVE_SUFFIX;
    }

    /** Whether {@code fileName} is exactly a rotated archive name ({@code journal-\d+\.wal}). */
    public static boolean isArchiveName(String fileName) {
        return fileName != null && ARCHIVE_NAME.matcher(fileName).matches();
    }

    /** The number of an archive name, if it is one (any number of digits). */
    public static Optional<BigInteger> archiveNumber(String fileName) {
        if (fileName == null) {
            return Optional.empty();
        }
        Matcher m = ARCHIVE_NAME.matcher(fileName);
        return m.matches() ? Optional.of(new BigInteger(m.group(1))) : Optional.empty();
    }
}
