package dev.tally.store.io;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.CopyOption;
import java.nio.file.Files;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * How the files Tally writes itself (journal, dead letters, manifest, lock and list files) are
 * opened for writing, renamed, deleted, and how their directories are forced. Production code
 * reaches it through {@link FileSync}; the default is the real file system. Tests install a
 * simulated one that keeps writes volatile until {@code force()} and can cut the power at any
 * step, which is how the durability of every {@code force()} and directory fsync is checked.
 *
 * <p>Implementations must be thread-safe.
 */
public interface FileIo {
    /** Opens a channel, as {@link FileChannel#open(Path, OpenOption...)}. */
    FileChannel open(Path file, OpenOption... options) throws IOException;

    /** Renames, as {@link Files#move}. */
    void move(Path from, Path to, CopyOption... options) throws IOException;

    /** Deletes, as {@link Files#delete}. */
    void delete(Path file) throws IOException;

    /** Forces a directory's entries to the device. */
    void forceDirectory(Path dir) throws IOException;

    /** The real file system. */
    FileIo REAL = new FileIo() {
        @Override
        public FileChannel open(Path file, OpenOption... options) throws IOException {
            return FileChannel.open(file, options);
        }

        @Override
        public void move(Path from, Path to, CopyOption... options) throws IOException {
            Files.move(from, to, options);
        }

        @Override
        public void delete(Path file) throws IOException {
            Files.delete(file);
        }

        @Override
        public void forceDirectory(Path dir) throws IOException {
            try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
                ch.force(true);
            } catch (IOException e) {
                // Some file systems refuse to open a directory for fsync; nothing more can be done there.
                if (!(e.getMessage() != null && e.getMessage().contains("Is a directory"))) {
                    throw e;
                }
            }
        }
    };
}
