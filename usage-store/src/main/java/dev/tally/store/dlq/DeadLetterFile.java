package dev.tally.store.dlq;

import dev.tally.store.io.FileSync;
import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One JSON-lines file of dead letters (the queue or the dead file): reading it, cutting a torn last
 * line, appending whole lines durably and rewriting it atomically. The line format is
 * {@link DeadLetterCodec}'s; this class only frames lines.
 *
 * <p>Not thread-safe: {@link DeadLetterQueue} calls it only while holding its queue lock.
 */
final class DeadLetterFile {
    private static final Logger LOG = LoggerFactory.getLogger(DeadLetterFile.class);

    /**
     * A failed fsync: the page cache's state is unknown, so the queue must refuse further writes.
     * The message is complete (names the file or directory).
     */
    static final class FsyncFailedException extends IOException {
        FsyncFailedException(String message, IOException cause) {
            super(message, cause);
        }
    }

    private final Path file;
    private final boolean readOnly;

    DeadLetterFile(Path file, boolean readOnly) {
        this.file = file;
        this.readOnly = readOnly;
    }

    Path path() {
        return file;
    }

    /**
     * Reads every complete entry; truncates a torn last line unless read-only.
     *
     * @throws IOException when the file cannot be read, or a complete line is not an entry
     */
    List<DeadLetter> load() throws IOException {
        List<DeadLetter> out = new ArrayList<>();
        long good = 0;
        long size;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS)) {
            size = ch.size();
            InputStream in = new BufferedInputStream(Channels.newInputStream(ch), 64 << 10);
            ByteArrayOutputStream line = new ByteArrayOutputStream(512);
            long pos = 0;
            long lineNo = 0;
            int b;
            while ((b = in.read()) >= 0) {
                pos++;
                if (b != '\n') {
                    if (line.size() >= DeadLetterQueue.MAX_ENTRY_LINE_BYTES) {
                        throw new IOException(file + " line " + (lineNo + 1) + " is longer than "
                                + DeadLetterQueue.MAX_ENTRY_LINE_BYTES + " bytes: the file is damaged");
                    }
                    line.write(b);
                    continue;
                }
                lineNo++;
                byte[] bytes = line.toByteArray();
                line.reset();
                good = pos;
                if (isBlank(bytes)) {
                    continue;
                }
                try {
                    out.add(DeadLetterCodec.decodeLine(bytes, 0, bytes.length));
                } catch (IllegalArgumentException e) {
                    throw new IOException(file + " line " + lineNo + " is not a dead-letter entry ("
                            + e.getMessage() + "): the file is damaged; move it aside to go on");
                }
            }
        } catch (NoSuchFileException e) {
            return out;
        }
        if (good < size) {
            if (readOnly) {
                LOG.warn("{} ends with a torn line of {} bytes (a write interrupted by a crash); "
                        + "left out, and left in place because the queue is read-only", file, size - good);
            } else {
                try (FileChannel ch = FileSync.open(file, StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS)) {
                    ch.truncate(good);
                    ch.force(true);
                }
                LOG.warn("{} ended with a torn line of {} bytes (a write interrupted by a crash, never "
                        + "acknowledged); truncated it at byte {}", file, size - good, good);
            }
        }
        return out;
    }

    /**
     * Reads every complete entry as the file is now, changing nothing (a torn last line is left out).
     *
     * @throws IOException              when the file cannot be read
     * @throws IllegalArgumentException when a complete line is not an entry
     */
    List<DeadLetter> read() throws IOException {
        List<DeadLetter> out = new ArrayList<>();
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS)) {
            InputStream in = new BufferedInputStream(Channels.newInputStream(ch), 64 << 10);
            ByteArrayOutputStream line = new ByteArrayOutputStream(512);
            int b;
            while ((b = in.read()) >= 0) {
                if (b != '\n') {
                    line.write(b);
                    continue;
                }
                byte[] bytes = line.toByteArray();
                line.reset();
                if (!isBlank(bytes)) {
                    out.add(DeadLetterCodec.decodeLine(bytes, 0, bytes.length));
                }
            }
        } catch (NoSuchFileException e) {
            return out;
        }
        return out;
    }

    /**
     * Appends whole lines and forces them. A failed write is cut back to the old end.
     *
     * @throws FsyncFailedException when a force failed (of the file, or of its directory when the
     *                              file is new), or a failed write could not be cut back
     * @throws IOException          when the write failed and was cut back
     */
    void append(List<DeadLetter> entries) throws IOException {
        byte[] bytes = encode(entries);
        boolean existed = Files.exists(file, LinkOption.NOFOLLOW_LINKS);
        try (FileChannel ch = FileSync.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                LinkOption.NOFOLLOW_LINKS)) {
            long before = ch.size();
            try {
                ByteBuffer buf = ByteBuffer.wrap(bytes);
                long pos = before;
                while (buf.hasRemaining()) {
                    pos += ch.write(buf, pos);
                }
            } catch (IOException e) {
                try {
                    ch.truncate(before);
                    ch.force(true);
                } catch (IOException again) {
                    e.addSuppressed(again);
                    throw new FsyncFailedException("cannot append to " + file + ": " + e.getMessage(), e);
                }
                throw e;
            }
            try {
                ch.force(true);
            } catch (IOException e) {
                throw new FsyncFailedException("cannot append to " + file + ": " + e.getMessage(), e);
            }
        }
        if (!existed) {
            try {
                FileSync.fsyncDirectory(file.getParent());
            } catch (IOException e) {
                throw new FsyncFailedException("cannot fsync " + file.getParent() + ": " + e.getMessage(), e);
            }
        }
    }

    /** Replaces the file with exactly {@code entries}: temp name, force, rename, fsync the directory. */
    void rewrite(List<DeadLetter> entries) throws IOException {
        FileSync.writeAtomically(file, encode(entries));
    }

    private static byte[] encode(List<DeadLetter> entries) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (DeadLetter e : entries) {
            out.writeBytes(DeadLetterCodec.encodeLine(e));
        }
        return out.toByteArray();
    }

    private static boolean isBlank(byte[] b) {
        for (byte x : b) {
            if (x != ' ' && x != '\t' && x != '\r') {
                return false;
            }
        }
        return true;
    }
}
