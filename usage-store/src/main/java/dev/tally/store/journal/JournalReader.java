package dev.tally.store.journal;

import dev.tally.store.RejectReason;
import dev.tally.store.StoreException;
import dev.tally.store.io.FileSync;
import java.io.IOException;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;

/**
 * Reads journal files for the importer: which files to import in which order, and the records of
 * one file from a byte offset on. Reading takes no lock and never changes a file.
 *
 * <p>Rules the importer can rely on:
 * <ul>
 *   <li>A returned boundary ({@link JournalReadResult#nextOffset()}, a record's
 *       {@link JournalRecord#endOffset()}) is always just after a newline.</li>
 *   <li>A trailing partial line (no newline yet: a write in progress or torn) is never returned
 *       and never consumed; once the rest is appended it is read as usual.</li>
 *   <li>Damage before the tail is returned as {@link JournalRecord.Damaged} with its offset and
 *       reason, and the records after it are still read.</li>
 *   <li>In the live journal only, damaged lines with no intact record after them are held back
 *       like a partial line: they are a torn tail that the next writer or {@link Journal#recover()}
 *       cuts, so consuming them could leave the importer past the end of the file. They are
 *       returned once an intact record follows them (or once the file is rotated).</li>
 *   <li>A line longer than {@code maxLineBytes} is reported as {@link RejectReason#LINE_TOO_LONG}
 *       and skipped without being held in memory (only its first bytes are kept).</li>
 * </ul>
 *
 * <p>The live journal can be rotated (renamed to an archive) at any time; the identity in
 * {@link JournalSource} lets the importer carry a position taken on {@code journal.wal} over to
 * the archive that now has the same identity.
 *
 * <p>Thread-safe: immutable; every call opens its own file channel.
 */
public final class JournalReader {
    /** Default longest line read whole: 1 MiB. */
    public static final int DEFAULT_MAX_LINE_BYTES = 1024 * 1024;
    /** Smallest accepted line limit (the checksum prefix plus a minimal event). */
    public static final int MIN_LINE_BYTES = 64;

    private static final int CHUNK = 64 * 1024;
    private static final int LISTING_ATTEMPTS = 5;

    private final JournalFiles files;

    /** @param dir the journal's configured dir (the files are in its {@code journal/} sub-directory) */
    public JournalReader(Path dir) {
        this.files = new JournalFiles(Objects.requireNonNull(dir, "dir"));
    }

    public JournalFiles files() {
        return files;
    }

    /**
     * The files to import, in import order: rotated archives by number, then the live journal if
     * it exists. If the live journal is rotated while listing, the listing is taken again so a new
     * archive is never missing from before a new live journal.
     */
    public List<JournalSource> sources() {
        try {
            for (int attempt = 1; ; attempt++) {
                String liveBefore = identity(files.liveFile());
                List<JournalSource> out = new ArrayList<>();
                for (Path archive : listArchives(files.journalDir())) {
                    BasicFileAttributes a = attributes(archive);
                    if (a != null) {
                        out.add(new JournalSource(archive, false, a.size(), keyText(a)));
                    }
                }
                BasicFileAttributes live = attributes(files.liveFile());
                String liveAfter = live == null ? "" : keyText(live);
                if (liveBefore.equals(liveAfter) || attempt >= LISTING_ATTEMPTS) {
                    if (live != null) {
                        out.add(new JournalSource(files.liveFile(), true, live.size(), liveAfter));
                    }
                    return out;
                }
            }
        } catch (IOException e) {
            throw new StoreException("cannot list journal files in " + files.journalDir() + ": " + e.getMessage(), e);
        }
    }

    /**
     * The file for a source name taken from input (an import position): only {@code journal.wal}
     * or an archive name, resolved inside the journal directory.
     *
     * @throws IllegalArgumentException for any other name, or one that would leave the directory
     */
    public Path resolve(String sourceName) {
        Path p = FileSync.resolveInside(files.journalDir(), sourceName);
        String name = p.getFileName().toString();
        if (!p.getParent().equals(files.journalDir().toAbsolutePath().normalize())
                || !(name.equals(JournalFiles.LIVE_FILE) || JournalFiles.isArchiveName(name))) {
            throw new IllegalArgumentException("not a journal source: " + sourceName);
        }
        return p;
    }

    /** {@link #read(Path, long, int, int)} with {@link #DEFAULT_MAX_LINE_BYTES}. */
    public JournalReadResult read(Path file, long fromOffset, int maxRecords) {
        return read(file, fromOffset, maxRecords, DEFAULT_MAX_LINE_BYTES);
    }

    /**
     * Reads up to {@code maxRecords} records of {@code file} starting at {@code fromOffset}. Only the
     * bytes present when the call starts are read.
     *
     * @param fromOffset   a boundary returned earlier (0 for the start)
     * @param maxRecords   at least 1
     * @param maxLineBytes longest line (newline excluded) decoded; longer ones are
     *                     {@link RejectReason#LINE_TOO_LONG}; at least {@value #MIN_LINE_BYTES}
     * @throws JournalOffsetException if {@code fromOffset} is past the end or not after a newline
     * @throws StoreException         if the file cannot be read
     */
    public JournalReadResult read(Path file, long fromOffset, int maxRecords, int maxLineBytes) {
        Objects.requireNonNull(file, "file");
        if (fromOffset < 0) {
            throw new IllegalArgumentException("fromOffset = " + fromOffset + " must not be negative");
        }
        if (maxRecords < 1) {
            throw new IllegalArgumentException("maxRecords = " + maxRecords + " must be at least 1");
        }
        if (maxLineBytes < MIN_LINE_BYTES) {
            throw new IllegalArgumentException("maxLineBytes = " + maxLineBytes + " must be at least " + MIN_LINE_BYTES);
        }
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            return new Scan(ch, file, fromOffset, maxRecords, maxLineBytes).run();
        } catch (IOException e) {
            throw new StoreException("cannot read journal file " + file + ": " + e.getMessage(), e);
        }
    }

    /**
     * Like {@link #read(Path, long, int, int)}, but reads from a channel the caller opened and
     * keeps open, so that every call reads the same file even if {@code journal.wal} is rotated
     * meanwhile. {@code file} names it (for messages, and to apply the live journal's rule on a
     * damaged tail when its name is {@code journal.wal}); the channel's position is not used.
     */
    public JournalReadResult read(FileChannel channel, Path file, long fromOffset, int maxRecords, int maxLineBytes) {
        Objects.requireNonNull(channel, "channel");
        Objects.requireNonNull(file, "file");
        if (fromOffset < 0) {
            throw new IllegalArgumentException("fromOffset = " + fromOffset + " must not be negative");
        }
        if (maxRecords < 1) {
            throw new IllegalArgumentException("maxRecords = " + maxRecords + " must be at least 1");
        }
        if (maxLineBytes < MIN_LINE_BYTES) {
            throw new IllegalArgumentException("maxLineBytes = " + maxLineBytes + " must be at least " + MIN_LINE_BYTES);
        }
        try {
            return new Scan(channel, file, fromOffset, maxRecords, maxLineBytes).run();
        } catch (IOException e) {
            throw new StoreException("cannot read journal file " + file + ": " + e.getMessage(), e);
        }
    }

    /** Rotated archives in {@code journalDir}: regular files named exactly like one, by number. */
    static List<Path> listArchives(Path journalDir) throws IOException {
        List<Path> out = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(journalDir)) {
            for (Path p : ds) {
                if (JournalFiles.isArchiveName(p.getFileName().toString())
                        && Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) {
                    out.add(p);
                }
            }
        } catch (NoSuchFileException e) {
            return out;
        }
        out.sort(Comparator.<Path, BigInteger>comparing(
                p -> JournalFiles.archiveNumber(p.getFileName().toString()).orElseThrow())
                .thenComparing(p -> p.getFileName().toString()));
        return out;
    }

    /** The identity text (device and inode) of a file, or "" if it does not exist. */
    static String identity(Path file) throws IOException {
        BasicFileAttributes a = attributes(file);
        return a == null ? "" : keyText(a);
    }

    private static BasicFileAttributes attributes(Path file) throws IOException {
        try {
            return Files.readAttributes(file, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        } catch (NoSuchFileException e) {
            return null;
        }
    }

    private static String keyText(BasicFileAttributes a) {
        return a.fileKey() == null ? "" : a.fileKey().toString();
    }

    /** One read call's state. Confined to the calling thread. */
    private static final class Scan {
        private final FileChannel ch;
        private final Path file;
        private final long from;
        private final int maxRecords;
        private final int maxLineBytes;
        private final boolean live;

        private final List<JournalRecord> out = new ArrayList<>();
        /** Live journal only: damaged lines not yet followed by an intact record. */
        private final List<JournalRecord.Damaged> held = new ArrayList<>();
        private long boundary;

        Scan(FileChannel ch, Path file, long from, int maxRecords, int maxLineBytes) {
            this.ch = ch;
            this.file = file;
            this.from = from;
            this.maxRecords = maxRecords;
            this.maxLineBytes = maxLineBytes;
            this.live = JournalFiles.LIVE_FILE.equals(file.getFileName().toString());
            this.boundary = from;
        }

        JournalReadResult run() throws IOException {
            long limit = ch.size();
            checkBoundary(limit);
            ByteBuffer chunk = ByteBuffer.allocate((int) Math.max(1, Math.min(CHUNK, limit - from)));
            byte[] a = chunk.array();
            byte[] line = new byte[Math.min(maxLineBytes, 8192)];
            int kept = 0;           // bytes of the current line held in `line`
            long lineBytes = 0;     // bytes of the current line seen so far
            boolean tooLong = false;
            long lineStart = from;
            long pos = from;
            while (pos < limit) {
                chunk.clear();
                chunk.limit((int) Math.min(chunk.capacity(), limit - pos));
                int n = ch.read(chunk, pos);
                if (n <= 0) {
                    break; // the file shrank (a torn tail was cut): what is left is not a full line
                }
                int i = 0;
                while (i < n) {
                    int nl = indexOf(a, i, n, RecordFormat.NEWLINE);
                    int segEnd = nl < 0 ? n : nl;
                    int seg = segEnd - i;
                    if (!tooLong) {
                        if (lineBytes + seg > maxLineBytes) {
                            tooLong = true;
                            int room = (int) (maxLineBytes - lineBytes);
                            line = grow(line, kept + room);
                            System.arraycopy(a, i, line, kept, room);
                            kept += room;
                        } else {
                            line = grow(line, kept + seg);
                            System.arraycopy(a, i, line, kept, seg);
                            kept += seg;
                        }
                    }
                    lineBytes += seg;
                    if (nl < 0) {
                        break;
                    }
                    long end = lineStart + lineBytes + 1;
                    JournalRecord rec = tooLong
                            ? new JournalRecord.Damaged(lineStart, end, RejectReason.LINE_TOO_LONG,
                                    "line at offset " + lineStart + " is " + lineBytes + " bytes, longer than maxLineBytes = "
                                            + maxLineBytes + "; skipped without reading it whole",
                                    Arrays.copyOf(line, Math.min(kept, JournalRecord.Damaged.MAX_RAW_BYTES)))
                            : RecordFormat.decode(line, kept, lineStart, end);
                    if (rec instanceof JournalRecord.Damaged d && live && !unchanged(d, line, kept)) {
                        // A writer cut a torn tail and appended while we read: start over next call.
                        return new JournalReadResult(out, boundary, false);
                    }
                    if (!accept(rec)) {
                        return new JournalReadResult(out, boundary, false);
                    }
                    lineStart = end;
                    kept = 0;
                    lineBytes = 0;
                    tooLong = false;
                    i = nl + 1;
                }
                pos += n;
            }
            return new JournalReadResult(out, boundary, true);
        }

        /** Adds a record; returns false once {@code maxRecords} are out. */
        private boolean accept(JournalRecord rec) {
            if (rec instanceof JournalRecord.Damaged d && live) {
                held.add(d);
                return true;
            }
            for (JournalRecord.Damaged d : held) {
                if (out.size() == maxRecords) {
                    return false; // the rest of `held` and `rec` are read again next call
                }
                emit(d);
            }
            held.clear();
            if (out.size() == maxRecords) {
                return false;
            }
            emit(rec);
            return out.size() < maxRecords;
        }

        private void emit(JournalRecord rec) {
            out.add(rec);
            boundary = rec.endOffset();
        }

        /** Whether a damaged line's bytes are still on disk as read (no concurrent cut and rewrite). */
        private boolean unchanged(JournalRecord.Damaged d, byte[] line, int kept) throws IOException {
            ByteBuffer again = ByteBuffer.allocate(kept + 1);
            long p = d.startOffset();
            while (again.position() < kept) {
                again.limit(kept);
                int n = ch.read(again, p);
                if (n <= 0) {
                    return false;
                }
                p += n;
            }
            again.limit(kept + 1);
            if (ch.read(again, d.endOffset() - 1) != 1 || again.get(kept) != RecordFormat.NEWLINE) {
                return false;
            }
            return Arrays.equals(again.array(), 0, kept, line, 0, kept);
        }

        private void checkBoundary(long limit) throws IOException {
            if (from > limit) {
                throw new JournalOffsetException("offset " + from + " is past the end of " + file + " (" + limit
                        + " bytes): the file was truncated or replaced since the position was taken");
            }
            if (from > 0) {
                ByteBuffer one = ByteBuffer.allocate(1);
                if (ch.read(one, from - 1) != 1 || one.get(0) != RecordFormat.NEWLINE) {
                    throw new JournalOffsetException("offset " + from + " of " + file
                            + " is not a record boundary (the byte before it is not a newline): "
                            + "the file was replaced since the position was taken");
                }
            }
        }

        private static byte[] grow(byte[] b, int need) {
            return need <= b.length ? b : Arrays.copyOf(b, Math.max(need, Math.min(Integer.MAX_VALUE - 16, 2 * b.length)));
        }

        private static int indexOf(byte[] a, int from, int to, byte v) {
            for (int i = from; i < to; i++) {
                if (a[i] == v) {
                    return i;
                }
            }
            return -1;
        }
    }
}
