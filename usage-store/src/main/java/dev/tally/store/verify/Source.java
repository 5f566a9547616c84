package dev.tally.store.verify;

import dev.tally.store.ingest.PositionCheck;
import dev.tally.store.ingest.PrefixFingerprint;
import dev.tally.store.ingest.QuarantineEntry;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.util.EnumMap;
import java.util.Map;

/**
 * One source file of a verify run and what was found for it: the stat at the start, the consumed
 * boundary, the file check, notes, and the lines per class.
 *
 * <p>Not thread-safe: confined to the run's thread. Holds no lock.
 */
final class Source {
    final int idx;
    final String kind;
    final String name;
    final Path path;
    final String positionKey;
    boolean live;
    String identity;
    Stat stat0;
    QuarantineEntry quarantine;
    Path openedPath;
    long boundary = -1;
    boolean unknown;
    /** A journal whose position does not match: changed, unless it proves a new file (SourceReader#resolveSuspects). */
    boolean suspect;
    String suspectWhy;
    String check = "ok";
    VerifyClass fileClass;
    final StringBuilder detail = new StringBuilder();
    long bytesRead;
    long tailBytes;
    boolean written;
    final EnumMap<VerifyClass, Long> counts = new EnumMap<>(VerifyClass.class);

    Source(int idx, String kind, String name, Path path, String positionKey) {
        this.idx = idx;
        this.kind = kind;
        this.name = name;
        this.path = path;
        this.positionKey = positionKey;
    }

    boolean boundaryKnown() {
        return !unknown && boundary >= 0;
    }

    void note(String s) {
        if (!detail.isEmpty()) {
            detail.append("; ");
        }
        detail.append(s);
    }

    void changed(String check, String why) {
        this.check = check;
        this.fileClass = VerifyClass.CHANGED;
        note(why);
    }

    void changed(PositionCheck.Drift drift) {
        changed(drift.check(), drift.detail());
    }

    /** Where a complete line ending at {@code end} lies ({@link PositionCheck#zone}). */
    PositionCheck.Zone zone(long end) {
        return PositionCheck.zone(end, boundaryKnown() ? boundary : -1, stat0.size());
    }

    void suspect(String check, String why) {
        this.suspect = true;
        this.check = check;
        this.suspectWhy = why;
    }

    void positionsUnknown() {
        unknown = true;
        check = "positions-unknown";
        fileClass = VerifyClass.INCONCLUSIVE;
        note("the snapshot has no import positions, so the consumed boundary cannot be checked");
    }

    void removed(String why) {
        written = true;
        check = "removed";
        note(why);
    }

    FileReport report() {
        VerifyClass status = fileClass;
        for (Map.Entry<VerifyClass, Long> e : counts.entrySet()) {
            if (e.getValue() > 0) {
                status = VerifyClass.worse(status, e.getKey());
            }
        }
        if (written) {
            status = VerifyClass.worse(status, VerifyClass.RACED);
        }
        if (status == null) {
            status = VerifyClass.UNCHANGED;
        }
        long size = stat0 == null ? -1 : stat0.size();
        return new FileReport(name, openedPath != null ? openedPath : path, kind, status, check, detail.toString(),
                boundaryKnown() ? boundary : -1, size, bytesRead, tailBytes, written, counts);
    }

    /** Size, modification time and identity of a source file when it was looked at. */
    record Stat(long size, FileTime modified, String identity) {
        /** Identity as the journal positions spell it (the file key). */
        static Stat journal(Path p) throws IOException {
            try {
                BasicFileAttributes a = Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
                return new Stat(a.size(), a.lastModifiedTime(), a.fileKey() == null ? "" : a.fileKey().toString());
            } catch (NoSuchFileException e) {
                return null;
            }
        }

        /** Identity as the spool positions spell it ({@link PrefixFingerprint#identity}). */
        static Stat spool(Path p) throws IOException {
            try {
                BasicFileAttributes a = Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
                return new Stat(a.size(), a.lastModifiedTime(), PrefixFingerprint.identity(p));
            } catch (NoSuchFileException e) {
                return null;
            }
        }
    }
}
