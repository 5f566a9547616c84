package dev.tally.store.internal;

import dev.tally.store.io.FileSync;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.zip.CRC32C;

/**
 * The key hashes of one sealed detail part, saved beside it ({@code <part>.parquet.keys}) so a
 * reopen rebuilds the dedup index by reading 8 bytes per event from a flat file instead of a
 * Parquet column through the engine.
 *
 * <pre>
 * offset 0   8 bytes  magic "TALLYKEY"
 *        8   4 bytes  format version (1)
 *       12   8 bytes  segment sequence the keys are indexed under
 *       20   8 bytes  key count n
 *       28   8n bytes key hashes, little-endian
 *  28 + 8n   4 bytes  CRC32C of every byte before it
 * </pre>
 *
 * <p>Written like a part: {@code .tmp}, force, atomic rename, directory fsync, before the part is
 * published, so a published part's sidecar is complete or absent (never torn). A missing or
 * damaged sidecar is not an error: the index is rebuilt from the part itself and the sidecar
 * rewritten. A sidecar whose part is not published is deleted by recovery.
 *
 * <p>Thread-safe: stateless.
 */
public final class KeysFile {
    /** The suffix after the part's own file name. */
    public static final String SUFFIX = ".keys";
    private static final long MAGIC = 0x59454B594C4C4154L; // "TALLYKEY", little-endian
    private static final int VERSION = 1;
    private static final int HEADER = 28;
    private static final int CHUNK = 1 << 20;
    /** Keys handed over at a time by {@link #stream}: 8 MiB of heap however large the part. */
    static final int CHUNK_KEYS = 1 << 20;

    private KeysFile() {
    }

    /** The sidecar of a part file. */
    public static Path of(Path partFile) {
        return partFile.resolveSibling(partFile.getFileName() + SUFFIX);
    }

    /** The keys as read, with the sequence they are indexed under. */
    public record Keys(long seq, long[] hashes) {
    }

    /** Writes {@code count} hashes durably to {@code target} (through a {@code .tmp} and a rename). */
    public static void write(Path target, long seq, long[] hashes, int count) throws IOException {
        Path tmp = target.resolveSibling(target.getFileName() + SegmentFiles.TMP_SUFFIX);
        CRC32C crc = new CRC32C();
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            ByteBuffer head = ByteBuffer.allocate(HEADER).order(ByteOrder.LITTLE_ENDIAN);
            head.putLong(MAGIC).putInt(VERSION).putLong(seq).putLong(count).flip();
            crc.update(head.duplicate());
            writeFully(ch, head);
            ByteBuffer buf = ByteBuffer.allocate(CHUNK).order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < count; i++) {
                if (!buf.hasRemaining()) {
                    flush(ch, buf, crc);
                }
                buf.putLong(hashes[i]);
            }
            flush(ch, buf, crc);
            ByteBuffer tail = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
            tail.putInt((int) crc.getValue()).flip();
            writeFully(ch, tail);
            ch.force(true);
        }
        FileSync.moveAtomically(tmp, target);
    }

    /** Receives the keys of a sidecar a chunk at a time. */
    @FunctionalInterface
    public interface ChunkConsumer {
        void accept(long[] hashes, int count);
    }

    /**
     * Reads a sidecar, or returns null when it is missing, damaged (wrong size, magic, version or
     * CRC) or does not hold {@code expectedCount} keys of {@code expectedSeq}.
     */
    public static Keys read(Path file, long expectedSeq, long expectedCount) throws IOException {
        if (expectedCount > (Integer.MAX_VALUE - 8)) {
            return null;
        }
        long[] hashes = new long[(int) expectedCount];
        int[] n = {0};
        boolean ok = stream(file, expectedSeq, expectedCount, (chunk, count) -> {
            System.arraycopy(chunk, 0, hashes, n[0], count);
            n[0] += count;
        });
        return ok ? new Keys(expectedSeq, hashes) : null;
    }

    /**
     * Hands the sidecar's keys to {@code consumer} in chunks of at most {@value #CHUNK_KEYS}, so a
     * part of any size is loaded in bounded memory. Returns whether the whole file was valid; the
     * CRC is checked only at the end, so on {@code false} the consumer may already have seen keys
     * of a damaged file (for the dedup index those are only extra candidates, never a miss, and
     * the caller then loads the part's real keys).
     */
    public static boolean stream(Path file, long expectedSeq, long expectedCount, ChunkConsumer consumer)
            throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (expectedCount < 0 || size != HEADER + expectedCount * 8 + 4) {
                return false;
            }
            ByteBuffer head = ByteBuffer.allocate(HEADER).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, head);
            head.flip();
            CRC32C crc = new CRC32C();
            crc.update(head.duplicate());
            if (head.getLong() != MAGIC || head.getInt() != VERSION || head.getLong() != expectedSeq
                    || head.getLong() != expectedCount) {
                return false;
            }
            long[] chunk = new long[CHUNK_KEYS];
            ByteBuffer buf = ByteBuffer.allocate(CHUNK_KEYS * 8).order(ByteOrder.LITTLE_ENDIAN);
            long left = expectedCount;
            while (left > 0) {
                int k = (int) Math.min(CHUNK_KEYS, left);
                buf.clear();
                buf.limit(k * 8);
                readFully(ch, buf);
                buf.flip();
                crc.update(buf.duplicate());
                buf.asLongBuffer().get(chunk, 0, k);
                consumer.accept(chunk, k);
                left -= k;
            }
            ByteBuffer tail = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, tail);
            tail.flip();
            return tail.getInt() == (int) crc.getValue();
        } catch (NoSuchFileException e) {
            return false;
        }
    }

    private static void flush(FileChannel ch, ByteBuffer buf, CRC32C crc) throws IOException {
        buf.flip();
        crc.update(buf.duplicate());
        writeFully(ch, buf);
        buf.clear();
    }

    private static void writeFully(FileChannel ch, ByteBuffer buf) throws IOException {
        while (buf.hasRemaining()) {
            ch.write(buf);
        }
    }

    private static void readFully(FileChannel ch, ByteBuffer buf) throws IOException {
        while (buf.hasRemaining()) {
            if (ch.read(buf) < 0) {
                throw new IOException("unexpected end of file");
            }
        }
    }
}
