package dev.tally.store.verify;

import dev.tally.store.ingest.LineReader;
import dev.tally.store.ingest.PositionCheck;
import dev.tally.store.ingest.PrefixFingerprint;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.ReadableByteChannel;

/**
 * Reads a file channel sequentially for a {@link LineReader} while digesting exactly its first
 * {@code upTo} bytes, so the prefix fingerprint that {@link PositionCheck#spoolPrefix} compares
 * is taken from the very bytes the lines are parsed from, and each file is read once.
 *
 * <p>Not thread-safe: belongs to one reader. Holds no lock.
 */
final class PrefixTee implements ReadableByteChannel {
    private final FileChannel ch;
    private final long upTo;
    private final PrefixFingerprint digest = PrefixFingerprint.empty();
    private long total;

    PrefixTee(FileChannel ch, long upTo) throws IOException {
        this.ch = ch;
        this.upTo = upTo;
        ch.position(0);
    }

    @Override
    public int read(ByteBuffer dst) throws IOException {
        int start = dst.position();
        int n = ch.read(dst);
        if (n > 0 && total < upTo) {
            int take = (int) Math.min(n, upTo - total);
            if (dst.hasArray()) {
                digest.update(dst.array(), dst.arrayOffset() + start, take);
            } else {
                byte[] b = new byte[take];
                dst.duplicate().position(start).get(b);
                digest.update(b, 0, take);
            }
        }
        if (n > 0) {
            total += n;
        }
        return n;
    }

    long total() {
        return total;
    }

    /** The digest of the first {@code upTo} bytes, or null when the file ended before them. */
    PrefixFingerprint prefix() {
        return digest.length() == upTo ? digest : null;
    }

    @Override
    public boolean isOpen() {
        return ch.isOpen();
    }

    @Override
    public void close() {
        // the caller closes the channel
    }
}
