package dev.tally.store.ingest;

import dev.tally.store.ImportPosition;
import dev.tally.store.journal.JournalFiles;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.util.HexFormat;
import java.util.zip.CRC32C;

/**
 * The rules for "has this source file changed since its committed import position P", in one
 * place for the spool import ({@link SpoolScanner}), the journal import ({@link JournalImporter})
 * and verify, so what the importer trusts and what verify checks cannot drift apart.
 *
 * <p><b>The boundary.</b> P's offset is the <em>consumed boundary</em>: the end of the last
 * complete line imported or dead-lettered. A partial last line is never consumed, so no byte after
 * the boundary takes part in the check.
 *
 * <p><b>Changed or grown.</b> A file has <em>changed</em> (real drift, a {@link Drift}) when the
 * bytes before the boundary are not the ones imported: another file has the name, the file is
 * shorter than the boundary, or the prefix has another fingerprint. Anything else is growth, and
 * growth never makes a file changed: a complete line after the boundary is <em>pending</em> when
 * the file already held it when it was first looked at, and <em>raced</em> when it was written
 * after that ({@link #zone}). A change is never excused as a race, whenever it happened.
 *
 * <p><b>Fingerprints.</b> Spool: the SHA-256 of exactly {@code [0, boundary)}
 * ({@link PrefixFingerprint}), digested again on every check, so a rewrite in place is found
 * whatever the size and modification time say. Journal: the CRC32C of the
 * {@value #JOURNAL_TAIL_WINDOW} bytes before the boundary ({@link #journalFingerprint}): every
 * record carries its own CRC, and the tail only has to tell this file from a reused inode or a cut
 * tail written over. The importer reads a changed journal file again from the start (the store
 * drops duplicates by id); a changed spool file is quarantined.
 *
 * <p>Stateless and thread-safe; holds no lock.
 */
public final class PositionCheck {
    /** Bytes before a journal position covered by its fingerprint. */
    public static final int JOURNAL_TAIL_WINDOW = 256;

    private PositionCheck() {
    }

    /**
     * A committed prefix that no longer matches its file.
     *
     * <p>Immutable and thread-safe.
     *
     * @param reason why
     * @param detail the same, in words, with the numbers
     */
    public record Drift(ChangeReason reason, String detail) {
        /** The reason as verify's file check spells it, e.g. {@code prefix-changed}. */
        public String check() {
            return reason.code().replace('_', '-');
        }
    }

    /** Where a complete line lies against its file's consumed boundary and its size when first looked at. */
    public enum Zone {
        /** Ends at or before the boundary: imported or dead-lettered. */
        CONSUMED,
        /** After the boundary, within the size the file had: not imported yet. */
        PENDING,
        /** Past the size the file had: written after the file was first looked at. */
        RACED,
        /** The boundary is not known. */
        UNKNOWN
    }

    /**
     * The zone of a complete line ending at {@code lineEnd}.
     *
     * @param boundary    the consumed boundary, negative when it is not known
     * @param sizeAtStart the file's size when it was first looked at
     */
    public static Zone zone(long lineEnd, long boundary, long sizeAtStart) {
        if (boundary < 0) {
            return Zone.UNKNOWN;
        }
        if (lineEnd <= boundary) {
            return Zone.CONSUMED;
        }
        return lineEnd <= sizeAtStart ? Zone.PENDING : Zone.RACED;
    }

    // ------------------------------------------------------------------------------------ spool

    /**
     * What a spool check found: a drift, or the fingerprint of the committed prefix as read
     * (ready to be extended by the import that continues from it).
     *
     * <p>Not thread-safe (the fingerprint belongs to one reader).
     */
    public record SpoolResult(Drift drift, PrefixFingerprint fingerprint) {
        /** Whether the file changed. */
        public boolean changed() {
            return drift != null;
        }
    }

    /**
     * Checks a spool file against {@code p}, digesting its committed prefix from {@code ch} with
     * positional reads.
     *
     * @param identity the file's identity now ({@link PrefixFingerprint#identity})
     */
    public static SpoolResult spool(ImportPosition p, String identity, FileChannel ch) throws IOException {
        Drift d = spoolBeforeRead(p, identity, ch.size());
        if (d != null) {
            return new SpoolResult(d, null);
        }
        PrefixFingerprint read;
        try {
            read = PrefixFingerprint.ofPrefix(ch, p.offset());
        } catch (EOFException e) {
            read = null;
        }
        d = spoolPrefix(p, read);
        return new SpoolResult(d, d == null ? read : null);
    }

    /**
     * The spool checks that need no read: the identity (unless the position has none), the size,
     * and that there is a fingerprint to compare with. When this passes, the caller digests
     * exactly {@code [0, p.offset())} and asks {@link #spoolPrefix}; verify digests it from the
     * very bytes it parses the lines from, so it reads each file once.
     *
     * @return null when the prefix is to be digested and compared
     */
    public static Drift spoolBeforeRead(ImportPosition p, String identity, long size) {
        if (!p.identity().isEmpty() && !p.identity().equals(identity)) {
            return new Drift(ChangeReason.IDENTITY_CHANGED, "another file now has this name (identity " + identity
                    + ", imported from " + p.identity() + ")");
        }
        if (size < p.offset()) {
            return truncated(size, p.offset());
        }
        if (p.fingerprint().isEmpty() && p.offset() > 0) {
            return new Drift(ChangeReason.NO_FINGERPRINT, "the committed position has no fingerprint, so its "
                    + p.offset() + " imported bytes cannot be checked");
        }
        return null;
    }

    /**
     * Compares the digest of the committed prefix with the position's fingerprint.
     *
     * @param read the digest of {@code [0, p.offset())} as read, or null when the file ended before
     *             the boundary (cut after its size was taken)
     * @return null when the prefix is the one imported
     */
    public static Drift spoolPrefix(ImportPosition p, PrefixFingerprint read) {
        if (read == null || read.length() != p.offset()) {
            return new Drift(ChangeReason.TRUNCATED, "the file ended before the " + p.offset()
                    + " bytes already imported");
        }
        if (p.fingerprint().isEmpty()) {
            return null; // only at offset 0 (see spoolBeforeRead): nothing was imported to compare
        }
        String hex = read.hex();
        if (!hex.equals(p.fingerprint())) {
            return new Drift(ChangeReason.PREFIX_CHANGED, "the first " + p.offset() + " bytes, already imported, "
                    + "were rewritten (fingerprint " + hex + ", imported " + p.fingerprint() + ")");
        }
        return null;
    }

    // ------------------------------------------------------------------------------------ journal

    /**
     * Checks a journal file against {@code p}: shorter than the boundary, or other bytes in the
     * {@value #JOURNAL_TAIL_WINDOW} before it. Positional reads; {@code ch}'s position is not used.
     *
     * @return null when the file continues the position
     */
    public static Drift journal(ImportPosition p, FileChannel ch) throws IOException {
        long size = ch.size();
        if (p.offset() > size) {
            return truncated(size, p.offset());
        }
        String fp = journalFingerprint(ch, p.offset());
        if (!fp.equals(p.fingerprint())) {
            return new Drift(ChangeReason.PREFIX_CHANGED, "the bytes before the " + p.offset() + " bytes already "
                    + "imported were rewritten (fingerprint " + fp + ", imported " + p.fingerprint() + ")");
        }
        return null;
    }

    /**
     * Whether a journal position belongs to another, reaped archive whose inode the file named
     * {@code fileName} reuses: archives are never renamed, so a position taken under another
     * archive name cannot describe this file. Verify applies it before {@link #journal}; the
     * importer needs no such check, because such a file either fails {@link #journal} (and is
     * read from the start) or holds the very same bytes, which the store deduplicates.
     */
    public static boolean staleArchive(ImportPosition p, String fileName) {
        return JournalFiles.isArchiveName(p.identity()) && !p.identity().equals(fileName);
    }

    /**
     * The fingerprint a journal import position records for {@code offset}: CRC32C of the
     * {@value #JOURNAL_TAIL_WINDOW} bytes before it, read from {@code ch} with positional reads
     * (its position is not used). {@code "short"} when the file ends before {@code offset}.
     */
    public static String journalFingerprint(FileChannel ch, long offset) throws IOException {
        int len = (int) Math.min(JOURNAL_TAIL_WINDOW, offset);
        ByteBuffer buf = ByteBuffer.allocate(len);
        long at = offset - len;
        while (buf.hasRemaining()) {
            int n = ch.read(buf, at + buf.position());
            if (n < 0) {
                return "short";
            }
        }
        CRC32C crc = new CRC32C();
        crc.update(buf.array(), 0, len);
        return "crc32c-tail:" + HexFormat.of().toHexDigits((int) crc.getValue());
    }

    private static Drift truncated(long size, long offset) {
        return new Drift(ChangeReason.TRUNCATED, "the file is " + size + " bytes, shorter than the " + offset
                + " bytes already imported");
    }
}
