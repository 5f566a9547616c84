package dev.tally.store.ingest;

import dev.tally.store.ImportPosition;
import java.nio.file.Path;
import java.util.Objects;

/**
 * One spool file as a scan found it, and what it decided.
 *
 * <p>Immutable and thread-safe.
 *
 * @param source           {@code spool:<directory name>/<relative file name>}
 * @param directory        the spool directory it was found in
 * @param relativeName     its path below the directory, with {@code /} separators
 * @param path             its absolute path
 * @param status           the decision
 * @param changeReason     why it is {@link SpoolStatus#CHANGED} (or was quarantined); else null
 * @param detail           a human-readable explanation of the decision
 * @param committed        the committed position the decision was made against, or null (for
 *                         {@link SpoolStatus#NEW}: none, or one superseded by a release)
 * @param size             the file's size when it was looked at (-1 if unknown)
 * @param identity         the file's identity when it was looked at ("" if unknown)
 * @param hasCompleteLines whether a complete line follows the position an import starts from
 */
public record SpoolFile(
        String source,
        SpoolDirectory directory,
        String relativeName,
        Path path,
        SpoolStatus status,
        ChangeReason changeReason,
        String detail,
        ImportPosition committed,
        long size,
        String identity,
        boolean hasCompleteLines) {

    public SpoolFile {
        Objects.requireNonNull(source, "source");
        Objects.requireNonNull(status, "status");
        detail = detail == null ? "" : detail;
        identity = identity == null ? "" : identity;
    }

    /** The position an import of this file starts from: the committed one, or the empty prefix. */
    public ImportPosition startPosition() {
        return committed != null ? committed : new ImportPosition(source, 0, PrefixFingerprint.EMPTY_HEX, identity);
    }

    @Override
    public String toString() {
        return source + " " + status.code() + (changeReason == null ? "" : " (" + changeReason.code() + ")")
                + (detail.isEmpty() ? "" : ": " + detail);
    }
}
