package dev.tally.store.journal;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.util.zip.CRC32C;

/**
 * Finds the end of the last good record of a journal file by walking back from its end: an
 * incomplete last line (no newline) and any complete last lines whose framing or checksum fails
 * are the torn tail; the walk stops at the first line, from the end, that is an intact record.
 *
 * <p>A line whose checksum is valid but whose JSON is not is kept: the journal writer never
 * writes one (it parses every event back before writing), so it is not a torn write, and the
 * reader reports it as a damaged record instead of it being dropped here.
 *
 * <p>Lines are checked in bounded chunks and never read whole, so a huge garbage tail costs time
 * in proportion to its size but no memory.
 *
 * <p>Thread-safe: stateless; the caller holds the journal locks while the result is used.
 */
final class TailScanner {
    private static final int CHUNK = 8192;

    /**
     * @param goodEnd   the end of the last intact record (0 if none)
     * @param linesCut  lines after it, a partial last line counting as one
     */
    record Result(long goodEnd, int linesCut) {
    }

    private TailScanner() {
    }

    /** Scans the first {@code size} bytes of a channel opened for reading. */
    static Result scan(FileChannel ch, long size) throws IOException {
        long end = size;
        int cut = 0;
        ByteBuffer buf = ByteBuffer.allocate(CHUNK);
        while (end > 0) {
            if (byteAt(ch, end - 1, buf) != RecordFormat.NEWLINE) {
                end = lastNewline(ch, end - 1, buf) + 1;
                cut++;
                continue;
            }
            long start = lastNewline(ch, end - 1, buf) + 1;
            if (isIntact(ch, start, end - 1, buf)) {
                break;
            }
            end = start;
            cut++;
        }
        return new Result(end, cut);
    }

    /** Whether {@code [start, lineEnd)} (the newline excluded) has valid framing and checksum. */
    static boolean isIntact(FileChannel ch, long start, long lineEnd, ByteBuffer buf) throws IOException {
        long len = lineEnd - start;
        if (len < RecordFormat.PREFIX_BYTES) {
            return false;
        }
        byte[] prefix = new byte[RecordFormat.PREFIX_BYTES];
        readFully(ch, start, prefix, prefix.length, buf);
        if (RecordFormat.frameError(prefix, prefix.length) != null) {
            return false;
        }
        int stored = RecordFormat.parseHex(prefix, 0);
        CRC32C crc = new CRC32C();
        long pos = start + RecordFormat.PREFIX_BYTES;
        while (pos < lineEnd) {
            buf.clear();
            buf.limit((int) Math.min(buf.capacity(), lineEnd - pos));
            int n = ch.read(buf, pos);
            if (n <= 0) {
                throw new EOFException("journal file shrank while its tail was checked");
            }
            buf.flip();
            crc.update(buf);
            pos += n;
        }
        return RecordFormat.intact(stored, (int) crc.getValue());
    }

    /** The offset of the last newline in {@code [0, limit)}, or -1. */
    static long lastNewline(FileChannel ch, long limit, ByteBuffer buf) throws IOException {
        long hi = limit;
        while (hi > 0) {
            long lo = Math.max(0, hi - buf.capacity());
            int len = (int) (hi - lo);
            byte[] a = buf.array();
            readFully(ch, lo, a, len, buf);
            for (int i = len - 1; i >= 0; i--) {
                if (a[i] == RecordFormat.NEWLINE) {
                    return lo + i;
                }
            }
            hi = lo;
        }
        return -1;
    }

    /** Up to {@code max} bytes from {@code offset}, for logging what is cut. */
    static byte[] head(FileChannel ch, long offset, int max) throws IOException {
        long size = ch.size();
        int len = (int) Math.max(0, Math.min(max, size - offset));
        byte[] out = new byte[len];
        readFully(ch, offset, out, len, ByteBuffer.allocate(Math.max(1, len)));
        return out;
    }

    /** Printable form of bytes: ASCII kept, everything else as {@code \xNN}. */
    static String printable(byte[] b) {
        StringBuilder s = new StringBuilder(b.length + 16);
        for (byte x : b) {
            int c = x & 0xff;
            if (c >= 0x20 && c < 0x7f && c != '\\') {
                s.append((char) c);
            } else if (c == '\n') {
                s.append("\\n");
            } else {
                s.append(String.format("\\x%02x", c));
            }
        }
        return s.toString();
    }

    private static byte byteAt(FileChannel ch, long pos, ByteBuffer buf) throws IOException {
        byte[] one = new byte[1];
        readFully(ch, pos, one, 1, buf);
        return one[0];
    }

    /** Reads exactly {@code len} bytes at {@code pos} into {@code dst[0..len)}, using {@code buf} as scratch. */
    private static void readFully(FileChannel ch, long pos, byte[] dst, int len, ByteBuffer buf) throws IOException {
        ByteBuffer target = dst == buf.array() ? buf : ByteBuffer.wrap(dst);
        target.clear();
        target.limit(len);
        long p = pos;
        while (target.hasRemaining()) {
            int n = ch.read(target, p);
            if (n <= 0) {
                throw new EOFException("journal file shrank while its tail was checked (offset " + p + ")");
            }
            p += n;
        }
    }
}
