package dev.tally.store.ingest;

import dev.tally.store.EventCodec;
import dev.tally.store.ValidEvent;
import dev.tally.store.EventRejectedException;
import dev.tally.store.RejectReason;
import dev.tally.store.UsageEvent;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.ReadableByteChannel;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Objects;

/**
 * Reads complete {@code '\n'}-terminated lines of a JSON-lines file from a byte offset, and keeps
 * the <em>consumed boundary</em>: the offset just after the last complete line it has handed out
 * or skipped. A crash-safe import commits exactly that boundary.
 *
 * <ul>
 *   <li>A trailing partial line (no {@code '\n'} yet, a writer may still be adding to it) is never
 *       returned and never consumed: {@link #boundary()} stays at its start. If the same reader is
 *       asked again after the file grew, it resumes where it stopped and returns the line once it
 *       is complete, exactly once.</li>
 *   <li>A line whose content is longer than {@code maxLineBytes} is streamed to its newline
 *       without being held: at most {@code maxLineBytes} plus a few bytes of line and one read
 *       buffer are in memory, whatever the line's length (a 2 GiB line is fine). It comes back as
 *       a {@link Line} with {@link Line#tooLong()} set, its full length, and only its first
 *       {@value #OVERSIZED_HEAD_BYTES} bytes.</li>
 *   <li>A UTF-8 byte order mark at offset 0 is skipped (its bytes count as consumed).</li>
 *   <li>Empty and blank lines (spaces and tabs only) are skipped and consumed.</li>
 *   <li>A {@code "\r\n"} terminator is accepted: the {@code '\r'} is not part of the content.</li>
 * </ul>
 *
 * <p>If a {@link PrefixFingerprint} is given, it must cover exactly {@code [0, startOffset)}; the
 * reader extends it with every byte it consumes, so after each line it covers exactly
 * {@code [0, boundary())}. Bytes read ahead past the boundary (a partial line) are never added.
 *
 * <p>Not thread-safe: one reader belongs to one caller. It holds no lock.
 */
public final class LineReader implements AutoCloseable {
    /** Longest line content accepted by default: 1 MiB. */
    public static final int DEFAULT_MAX_LINE_BYTES = 1 << 20;
    /** Size of the read buffer by default. */
    public static final int DEFAULT_BUFFER_BYTES = 64 << 10;
    /** How much of an oversized line is kept, so a dead-letter entry can show how it began. */
    public static final int OVERSIZED_HEAD_BYTES = 4 << 10;

    private static final byte[] NEWLINE = {'\n'};
    private static final byte[] UTF8_BOM = {(byte) 0xEF, (byte) 0xBB, (byte) 0xBF};
    /** Extra raw bytes a line may hold beyond its content: a BOM at offset 0 and a '\r'. */
    private static final int SLACK = UTF8_BOM.length + 1;

    /**
     * One complete line. Immutable (as long as nobody writes into {@code content}) and so
     * thread-safe.
     *
     * @param start         offset of the line's first byte (0 for a line that begins with a BOM)
     * @param end           offset just after its {@code '\n'}
     * @param content       the content without BOM, {@code '\r'} and {@code '\n'}; for a line that
     *                      is {@link #tooLong()}, only its first {@value #OVERSIZED_HEAD_BYTES}
     *                      bytes. The array belongs to the record: do not modify it.
     * @param contentLength the full content length in bytes
     * @param tooLong       whether the content was longer than the reader's limit
     */
    public record Line(long start, long end, byte[] content, long contentLength, boolean tooLong) {
        public Line {
            Objects.requireNonNull(content, "content");
        }

        /**
         * Parses the line with {@link EventCodec#parse(byte[], int, int)}; an oversized line is
         * refused with {@link RejectReason#LINE_TOO_LONG} without being parsed.
         */
        public UsageEvent parse(int maxLineBytes) throws EventRejectedException {
            refuseIfTooLong(maxLineBytes);
            return EventCodec.parse(content, 0, content.length);
        }

        /**
         * Parses the line and checks it with every clock-free rule in one pass
         * ({@link EventCodec#parseValid}): what an importer stores, so the store re-checks only
         * the time bounds. An oversized line is refused as by {@link #parse}.
         */
        public ValidEvent parseValid(int maxLineBytes) throws EventRejectedException {
            refuseIfTooLong(maxLineBytes);
            return EventCodec.parseValid(content, 0, content.length);
        }

        private void refuseIfTooLong(int maxLineBytes) throws EventRejectedException {
            if (tooLong) {
                throw new EventRejectedException(RejectReason.LINE_TOO_LONG, "the line at byte " + start + " is "
                        + contentLength + " bytes long, more than the limit of " + maxLineBytes
                        + " bytes; it was skipped without being read whole");
            }
        }
    }

    private final ReadableByteChannel channel;
    private final int maxLineBytes;
    private final ByteBuffer buffer;
    private final PrefixFingerprint fingerprint;

    /** Offset of the next unread byte in {@link #buffer} (buffer.position()). */
    private long scanPos;
    /** The consumed boundary. */
    private long boundary;

    // The line being assembled, kept across calls so a partial line resumes where it stopped.
    private byte[] held = new byte[256];
    private int heldLen;
    private long rawLen;
    private boolean oversized;
    private byte[] oversizedHead;
    private byte lastByte;
    private PrefixFingerprint pendingFingerprint;
    private boolean bomStripped;
    private long peakHeldBytes;
    private boolean eof;

    /**
     * A reader over {@code channel}, which must be positioned at {@code startOffset}.
     *
     * @param fingerprint the digest of exactly {@code [0, startOffset)} to extend, or null
     */
    public LineReader(ReadableByteChannel channel, long startOffset, int maxLineBytes, int bufferBytes,
            PrefixFingerprint fingerprint) {
        this.channel = Objects.requireNonNull(channel, "channel");
        if (startOffset < 0) {
            throw new IllegalArgumentException("startOffset = " + startOffset + " must not be negative");
        }
        if (maxLineBytes < 1 || maxLineBytes > Integer.MAX_VALUE - 16) {
            throw new IllegalArgumentException("maxLineBytes = " + maxLineBytes + " is out of range");
        }
        if (bufferBytes < 1) {
            throw new IllegalArgumentException("bufferBytes = " + bufferBytes + " must be positive");
        }
        if (fingerprint != null && fingerprint.length() != startOffset) {
            throw new IllegalArgumentException("the fingerprint covers " + fingerprint.length()
                    + " bytes, not the start offset " + startOffset);
        }
        this.maxLineBytes = maxLineBytes;
        this.buffer = ByteBuffer.allocate(bufferBytes);
        this.buffer.flip(); // empty
        this.fingerprint = fingerprint;
        this.scanPos = startOffset;
        this.boundary = startOffset;
        this.peakHeldBytes = held.length;
    }

    /** Opens {@code file} (never through a symbolic link) and reads from {@code startOffset}. */
    public static LineReader open(Path file, long startOffset, int maxLineBytes) throws IOException {
        FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS);
        try {
            ch.position(startOffset);
            return new LineReader(ch, startOffset, maxLineBytes, DEFAULT_BUFFER_BYTES, null);
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    /** The offset just after the last complete line returned or skipped. */
    public long boundary() {
        return boundary;
    }

    /** The line limit this reader applies. */
    public int maxLineBytes() {
        return maxLineBytes;
    }

    /** The fingerprint being extended (covers exactly {@code [0, boundary())}), or null. */
    public PrefixFingerprint fingerprint() {
        return fingerprint;
    }

    /**
     * The most line bytes this reader has held in memory at once (its line buffer's largest
     * capacity), not counting the read buffer; for tests and metrics.
     */
    public long peakHeldBytes() {
        return peakHeldBytes;
    }

    /**
     * Whether the last {@link #next()} stopped at the end of the data, with a partial line (or
     * nothing) after the boundary.
     */
    public boolean atEnd() {
        return eof;
    }

    /**
     * The next complete, non-blank line, or null when the data ends before the next {@code '\n'}
     * (the partial line, if any, stays unconsumed; a later call retries after the file grew).
     */
    public Line next() throws IOException {
        eof = false;
        while (true) {
            if (!buffer.hasRemaining() && !fill()) {
                eof = true;
                return null;
            }
            byte[] arr = buffer.array();
            int from = buffer.position();
            int limit = buffer.limit();
            int nl = -1;
            for (int i = from; i < limit; i++) {
                if (arr[i] == '\n') {
                    nl = i;
                    break;
                }
            }
            int chunkEnd = nl < 0 ? limit : nl;
            append(arr, from, chunkEnd - from);
            if (nl < 0) {
                buffer.position(limit);
                scanPos += limit - from;
                continue;
            }
            buffer.position(nl + 1);
            scanPos += nl + 1 - from;
            Line line = complete();
            if (line != null) {
                return line;
            }
        }
    }

    private boolean fill() throws IOException {
        buffer.clear();
        int n;
        do {
            n = channel.read(buffer);
        } while (n == 0);
        buffer.flip();
        return n > 0;
    }

    /** Adds raw bytes (no '\n') to the line being assembled. */
    private void append(byte[] src, int off, int len) {
        if (len == 0) {
            return;
        }
        rawLen += len;
        lastByte = src[off + len - 1];
        if (oversized) {
            if (pendingFingerprint != null) {
                pendingFingerprint.update(src, off, len);
            }
            return;
        }
        int room = maxLineBytes + SLACK - heldLen;
        int keep = Math.min(len, room);
        ensureCapacity(heldLen + keep);
        System.arraycopy(src, off, held, heldLen, keep);
        heldLen += keep;
        if (keep == len) {
            return;
        }
        // Past the limit whatever the terminator: stop holding the line, keep its head only.
        oversized = true;
        bomStripped = startsWithBom(held, heldLen);
        int skip = bomStripped ? UTF8_BOM.length : 0;
        oversizedHead = Arrays.copyOfRange(held, skip, skip + Math.min(OVERSIZED_HEAD_BYTES, heldLen - skip));
        if (fingerprint != null) {
            pendingFingerprint = fingerprint.copy();
            pendingFingerprint.update(held, 0, heldLen);
            pendingFingerprint.update(src, off + keep, len - keep);
        }
        held = new byte[256];
        heldLen = 0;
    }

    private void ensureCapacity(int needed) {
        if (needed <= held.length) {
            return;
        }
        long cap = Math.max((long) held.length * 2, needed);
        cap = Math.min(cap, (long) maxLineBytes + SLACK);
        held = Arrays.copyOf(held, (int) cap);
        peakHeldBytes = Math.max(peakHeldBytes, held.length);
    }

    private boolean startsWithBom(byte[] b, int len) {
        return boundary == 0 && len >= UTF8_BOM.length && b[0] == UTF8_BOM[0] && b[1] == UTF8_BOM[1]
                && b[2] == UTF8_BOM[2];
    }

    /** Finishes the line whose '\n' was just read; returns null for a blank line. */
    private Line complete() {
        long start = boundary;
        long end = scanPos;
        Line result;
        if (oversized) {
            long content = rawLen - (bomStripped ? UTF8_BOM.length : 0) - (lastByte == '\r' ? 1 : 0);
            result = new Line(start, end, oversizedHead, content, true);
            if (fingerprint != null) {
                pendingFingerprint.update(NEWLINE, 0, 1);
                fingerprint.replaceWith(pendingFingerprint);
            }
        } else {
            if (fingerprint != null) {
                fingerprint.update(held, 0, heldLen);
                fingerprint.update(NEWLINE, 0, 1);
            }
            int from = startsWithBom(held, heldLen) ? UTF8_BOM.length : 0;
            int to = heldLen;
            if (to > from && held[to - 1] == '\r') {
                to--;
            }
            int len = to - from;
            if (isBlank(held, from, to)) {
                result = null;
            } else if (len > maxLineBytes) {
                byte[] head = Arrays.copyOfRange(held, from, from + Math.min(len, OVERSIZED_HEAD_BYTES));
                result = new Line(start, end, head, len, true);
            } else {
                result = new Line(start, end, Arrays.copyOfRange(held, from, to), len, false);
            }
        }
        boundary = end;
        resetLine();
        return result;
    }

    private void resetLine() {
        heldLen = 0;
        rawLen = 0;
        oversized = false;
        oversizedHead = null;
        pendingFingerprint = null;
        bomStripped = false;
        lastByte = 0;
        if (held.length > DEFAULT_BUFFER_BYTES) {
            held = new byte[256]; // give a big line's memory back
        }
    }

    private static boolean isBlank(byte[] b, int from, int to) {
        for (int i = from; i < to; i++) {
            if (b[i] != ' ' && b[i] != '\t') {
                return false;
            }
        }
        return true;
    }

    /** Closes the channel. */
    @Override
    public void close() throws IOException {
        channel.close();
    }
}
