package dev.tally.store.journal;

import java.nio.file.Path;
import java.util.Objects;

/**
 * One file to import, as listed by {@link JournalReader#sources()}.
 *
 * <p>Thread-safe: immutable.
 *
 * @param path      the file
 * @param live      true for {@code journal.wal}, false for a rotated archive
 * @param sizeBytes the file size when listed (the live journal may have grown since)
 * @param identity  the file's identity (device and inode) when listed; a rotation renames the live
 *                  journal without changing its identity, so an importer that stored a position
 *                  for {@code journal.wal} can find the same bytes again under the archive name
 */
public record JournalSource(Path path, boolean live, long sizeBytes, String identity) {
    public JournalSource {
        Objects.requireNonNull(path, "path");
        identity = identity == null ? "" : identity;
    }

    /** The file name, e.g. {@code journal-0001763600000123456789.wal}. */
    public String name() {
        return path.getFileName().toString();
    }
}
