package dev.tally.store.verify;

import java.nio.file.Path;
import java.util.Collections;
import java.util.EnumMap;
import java.util.Map;
import java.util.Objects;

/**
 * What verify found for one source file.
 *
 * <p>Immutable and thread-safe.
 *
 * @param name         display name: {@code journal/<file name>} or {@code spool:<dir>/<relative name>}
 * @param path         the file
 * @param kind         {@code journal} or {@code spool}
 * @param status       the most severe of the file check and of its lines' classes
 * @param check        the file check against its committed import position: {@code ok},
 *                     {@code not-imported}, {@code prefix-changed}, {@code truncated},
 *                     {@code identity-changed}, {@code no-fingerprint}, {@code stale-position},
 *                     {@code positions-unknown}, {@code removed} or {@code unreadable}
 * @param detail       the check and what happened to the file during the run, in words
 * @param boundary     the committed consumed boundary (bytes before it are imported), -1 when the
 *                     snapshot holds no position for the file or it is unknown
 * @param sizeAtStart  the file size right after the store snapshot was taken
 * @param bytesRead    the bytes read and classified
 * @param tailBytes    bytes after the last complete line that were not classified (a partial line
 *                     being written, or a torn journal tail the next writer cuts); never a
 *                     difference
 * @param written      whether the file was written (or replaced, or removed) after the snapshot
 * @param counts       lines per class
 */
public record FileReport(String name, Path path, String kind, VerifyClass status, String check, String detail,
        long boundary, long sizeAtStart, long bytesRead, long tailBytes, boolean written,
        Map<VerifyClass, Long> counts) {

    public FileReport {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(status, "status");
        Objects.requireNonNull(check, "check");
        detail = detail == null ? "" : detail;
        EnumMap<VerifyClass, Long> c = new EnumMap<>(VerifyClass.class);
        c.putAll(counts);
        counts = Collections.unmodifiableMap(c);
    }

    /** Lines of one class. */
    public long count(VerifyClass c) {
        return counts.getOrDefault(c, 0L);
    }
}
