package dev.tally.store.ingest;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Map;

/**
 * The SHA-256 digest of exactly the bytes {@code [0, length())} of a file: the fingerprint an
 * import position records for its consumed boundary, so a later run can tell an append (the
 * prefix is unchanged) from a rewrite or truncation (it is not).
 *
 * <p>It can be computed from scratch ({@link #ofPrefix}) or extended while a file is read in one
 * run ({@link #update}, {@link #extend}): SHA-256 is a stream digest, so digesting
 * {@code [0, a)} and then {@code [a, b)} gives the digest of {@code [0, b)}. The running state
 * lives only in memory; a position stores the finished {@link #hex()} string, so a new run starts
 * by digesting the committed prefix again, which is also what detects a rewrite in place.
 *
 * <p>Also gives a file's {@link #identity(Path) identity}: device and inode where the file system
 * reports them, else creation time and name.
 *
 * <p>Not thread-safe: an instance belongs to one reader. It holds no lock. The static methods are
 * thread-safe.
 */
public final class PrefixFingerprint {
    /** The digest algorithm. */
    public static final String ALGORITHM = "SHA-256";
    /** The fingerprint of the empty prefix. */
    public static final String EMPTY_HEX =
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    /** Identity prefix when the file system reports device and inode. */
    public static final String IDENTITY_UNIX = "unix:";
    /** Identity prefix when it does not: creation time and name. */
    public static final String IDENTITY_CREATED = "created:";

    private static final int READ_CHUNK = 64 << 10;

    private MessageDigest digest;
    private long length;

    private PrefixFingerprint(MessageDigest digest, long length) {
        this.digest = digest;
        this.length = length;
    }

    /** The fingerprint of the empty prefix, ready to be extended. */
    public static PrefixFingerprint empty() {
        try {
            return new PrefixFingerprint(MessageDigest.getInstance(ALGORITHM), 0);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java runtime has " + ALGORITHM, e);
        }
    }

    /**
     * Digests {@code [0, boundary)} of {@code channel} from scratch with positional reads (the
     * channel's position is not used or changed).
     *
     * @throws EOFException when the file is shorter than {@code boundary}
     */
    public static PrefixFingerprint ofPrefix(FileChannel channel, long boundary) throws IOException {
        PrefixFingerprint f = empty();
        f.extend(channel, boundary);
        return f;
    }

    /** The hex fingerprint of {@code [0, boundary)} of a file, read without following a link. */
    public static String hexOfPrefix(Path file, long boundary) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS)) {
            return ofPrefix(ch, boundary).hex();
        }
    }

    /** Adds bytes that follow the current prefix; the caller guarantees they are the next ones. */
    public void update(byte[] bytes, int offset, int len) {
        digest.update(bytes, offset, len);
        length += len;
    }

    /**
     * Extends the prefix to {@code newBoundary} by reading {@code [length(), newBoundary)} of the
     * channel with positional reads.
     *
     * @throws EOFException when the file ends before {@code newBoundary}
     */
    public void extend(FileChannel channel, long newBoundary) throws IOException {
        if (newBoundary < length) {
            throw new IllegalArgumentException("cannot shrink a fingerprint from " + length + " to " + newBoundary);
        }
        ByteBuffer buf = ByteBuffer.allocate((int) Math.min(READ_CHUNK, Math.max(1, newBoundary - length)));
        while (length < newBoundary) {
            buf.clear();
            buf.limit((int) Math.min(buf.capacity(), newBoundary - length));
            int n = channel.read(buf, length);
            if (n < 0) {
                throw new EOFException("the file ends at byte " + length + ", before the boundary " + newBoundary);
            }
            update(buf.array(), 0, n);
        }
    }

    /** How many bytes the fingerprint covers. */
    public long length() {
        return length;
    }

    /** The lower-case hex SHA-256 of the prefix; the running state is kept, so it can go on. */
    public String hex() {
        return HexFormat.of().formatHex(cloneDigest().digest());
    }

    /** An independent copy that can be extended separately. */
    public PrefixFingerprint copy() {
        return new PrefixFingerprint(cloneDigest(), length);
    }

    /** Takes over the state of {@code other} (used when a skipped oversized line is complete). */
    void replaceWith(PrefixFingerprint other) {
        this.digest = other.cloneDigest();
        this.length = other.length;
    }

    private MessageDigest cloneDigest() {
        try {
            return (MessageDigest) digest.clone();
        } catch (CloneNotSupportedException e) {
            throw new IllegalStateException(ALGORITHM + " digest cannot be cloned", e);
        }
    }

    /**
     * The identity of the file at {@code file} (not following a link): {@code unix:<dev>:<ino>}
     * where available, else {@code created:<creation time>:<file name>}. A file replaced by
     * another one under the same name (rename over it, delete and recreate) gets a new identity.
     */
    public static String identity(Path file) throws IOException {
        try {
            Map<String, Object> a = Files.readAttributes(file, "unix:dev,ino", LinkOption.NOFOLLOW_LINKS);
            Object dev = a.get("dev");
            Object ino = a.get("ino");
            if (dev != null && ino != null) {
                return IDENTITY_UNIX + dev + ":" + ino;
            }
        } catch (UnsupportedOperationException | IllegalArgumentException e) {
            // No unix view on this file system: fall back below.
        }
        BasicFileAttributes b = Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        return IDENTITY_CREATED + b.creationTime().toInstant() + ":" + file.getFileName();
    }
}
