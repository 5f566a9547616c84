package dev.tally.store.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * Durable file-system steps: fsync a file, fsync a directory, replace a file atomically, and
 * check that a path taken from input stays inside its root. The files Tally writes itself are
 * opened, renamed and deleted through a {@link FileIo} (the real file system; tests swap in one
 * that loses power).
 *
 * <p>Thread-safe: the only state is the current {@link FileIo}, a volatile reference.
 */
public final class FileSync {
    /** Suffix of a file being written before its atomic rename; the same name the store's recovery deletes. */
    public static final String TMP_SUFFIX = ".tmp";

    /** Swapped only by tests (power-loss simulation); see {@link #useFileIo}. */
    private static volatile FileIo io = FileIo.REAL;

    private FileSync() {
    }

    /**
     * Routes Tally's own file writes through {@code fileIo} until the returned handle is closed,
     * which restores the real file system. For tests only.
     */
    public static AutoCloseable useFileIo(FileIo fileIo) {
        java.util.Objects.requireNonNull(fileIo, "fileIo");
        io = fileIo;
        return () -> io = FileIo.REAL;
    }

    /** Opens a file Tally writes itself, through the current {@link FileIo}. */
    public static FileChannel open(Path file, java.nio.file.OpenOption... options) throws IOException {
        return io.open(file, options);
    }

    /** Renames a file Tally writes itself without replacing anything (the caller checked the target). */
    public static void rename(Path from, Path to) throws IOException {
        io.move(from, to, StandardCopyOption.ATOMIC_MOVE);
    }

    /** Forces a file's content and metadata to the device. */
    public static void fsyncFile(Path file) throws IOException {
        try (FileChannel ch = io.open(file, StandardOpenOption.READ)) {
            ch.force(true);
        }
    }

    /**
     * Forces a directory's entries (creations, renames, deletions) to the device, so a rename is
     * durable and not only visible.
     */
    public static void fsyncDirectory(Path dir) throws IOException {
        io.forceDirectory(dir);
    }

    /**
     * Writes {@code content} to {@code target} so that a crash leaves either the old file or the
     * new one, never a torn one: write {@code target + TMP}, force, rename over the target,
     * fsync the directory.
     */
    public static void writeAtomically(Path target, byte[] content) throws IOException {
        Path tmp = target.resolveSibling(target.getFileName() + TMP_SUFFIX);
        try (FileChannel ch = io.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            ByteBuffer buf = ByteBuffer.wrap(content);
            while (buf.hasRemaining()) {
                ch.write(buf);
            }
            ch.force(true);
        }
        moveAtomically(tmp, target);
    }

    /** Renames atomically and makes the rename durable. */
    public static void moveAtomically(Path from, Path to) throws IOException {
        try {
            io.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            throw new IOException("the file system cannot rename " + from + " to " + to
                    + " atomically; Tally needs a local POSIX file system", e);
        }
        fsyncDirectory(to.getParent());
        if (!from.getParent().equals(to.getParent())) {
            fsyncDirectory(from.getParent());
        }
    }

    /** Deletes a file if present and makes the deletion durable; returns whether it existed. */
    public static boolean deleteDurably(Path file) throws IOException {
        try {
            io.delete(file);
        } catch (NoSuchFileException e) {
            return false;
        }
        fsyncDirectory(file.getParent());
        return true;
    }

    /** CRC32C of a whole file, read in 64 KiB chunks. */
    public static long crc32c(Path file) throws IOException {
        java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
        byte[] buf = new byte[1 << 16];
        try (java.io.InputStream in = Files.newInputStream(file)) {
            for (int n; (n = in.read(buf)) > 0; ) {
                crc.update(buf, 0, n);
            }
        }
        return crc.getValue();
    }

    /**
     * Resolves {@code relative} (taken from input: a manifest entry, a file name, a request)
     * against {@code root} and refuses anything that would leave the root: absolute paths,
     * {@code ..}, NUL bytes.
     */
    public static Path resolveInside(Path root, String relative) {
        if (relative == null || relative.isEmpty()) {
            throw new IllegalArgumentException("empty path");
        }
        if (relative.indexOf('\0') >= 0) {
            throw new IllegalArgumentException("path contains a NUL byte: " + relative.replace("\0", "\\0"));
        }
        Path rel = Path.of(relative);
        if (rel.isAbsolute()) {
            throw new IllegalArgumentException("path must be relative to " + root + ": " + relative);
        }
        Path normalizedRoot = root.toAbsolutePath().normalize();
        Path resolved = normalizedRoot.resolve(rel).normalize();
        if (!resolved.startsWith(normalizedRoot) || resolved.equals(normalizedRoot)) {
            throw new IllegalArgumentException("path leaves its root " + root + ": " + relative);
        }
        return resolved;
    }
}
