package dev.tally.store.internal;

import dev.tally.store.io.FileSync;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Instant;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Moves damaged files out of service into {@code quarantine/}, keeping their relative path and
 * adding the time, so the evidence survives for an operator and nothing reads them again.
 *
 * <p>Thread-safe: stateless.
 */
final class Quarantine {
    private static final Logger log = LoggerFactory.getLogger(Quarantine.class);

    private Quarantine() {
    }

    /** Moves {@code relative} (inside the data directory) to the quarantine; a missing file is fine. */
    static Path move(SegmentFiles files, String relative, Instant at, String reason) throws IOException {
        Path source = FileSync.resolveInside(files.root(), relative);
        Path target = FileSync.resolveInside(files.quarantineDir(),
                relative + "." + at.toString().replace(':', '-'));
        Files.createDirectories(target.getParent());
        try {
            FileSync.moveAtomically(source, target);
        } catch (NoSuchFileException e) {
            log.error("quarantined {} (file missing): {}", relative, reason);
            return null;
        }
        log.error("quarantined {} to {}: {}", relative, files.root().relativize(target), reason);
        return target;
    }

    /** Why a part's file does not match its manifest entry, or null when its size matches. */
    static String sizeProblem(SegmentFiles files, SealedPart p) {
        Path f = FileSync.resolveInside(files.root(), p.path());
        try {
            long size = Files.size(f);
            return size == p.bytes() ? null
                    : "file is " + size + " bytes, the manifest says " + p.bytes() + " (truncated or replaced)";
        } catch (NoSuchFileException e) {
            return "file is missing";
        } catch (IOException e) {
            return "file cannot be read: " + dev.tally.store.EngineErrors.scrubPaths(e.getMessage());
        }
    }

    /** Why a part's content does not match its manifest entry, or null when its CRC32C matches. */
    static String contentProblem(SegmentFiles files, SealedPart p) {
        String size = sizeProblem(files, p);
        if (size != null) {
            return size;
        }
        try {
            long crc = FileSync.crc32c(FileSync.resolveInside(files.root(), p.path()));
            return crc == p.crc32c() ? null
                    : "CRC32C " + Long.toHexString(crc) + " does not match the manifest's " + Long.toHexString(p.crc32c())
                            + " (damaged on disk)";
        } catch (IOException e) {
            return "file cannot be read: " + dev.tally.store.EngineErrors.scrubPaths(e.getMessage());
        }
    }
}
