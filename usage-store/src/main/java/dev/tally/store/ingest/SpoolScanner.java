package dev.tally.store.ingest;

import dev.tally.store.ImportPosition;
import dev.tally.store.ReadOnlyStoreException;
import dev.tally.store.StoreException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.locks.ReentrantLock;
import dev.tally.store.io.FileSync;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Finds the spool files ({@code *.jsonl}) in the configured spool directories and decides, for
 * each, against its last committed {@link ImportPosition}, whether it is {@link SpoolStatus#NEW},
 * {@link SpoolStatus#APPENDED}, {@link SpoolStatus#UNCHANGED} or {@link SpoolStatus#CHANGED};
 * then opens importable ones for reading ({@link #open}).
 *
 * <p><b>Sources.</b> A file's source name is {@code spool:<directory name>/<relative name>}
 * ({@link #sourceName}). Its committed position holds the <em>consumed boundary</em> (the offset
 * after the last complete line imported or dead-lettered; a partial last line is never
 * consumed), the SHA-256 of exactly the bytes before it, and the file's identity.
 *
 * <p><b>Appended or changed.</b> Decided by {@link PositionCheck#spool}, the rules verify checks
 * by too: a file is CHANGED when its identity differs from the committed one (replaced under the
 * same name), when it is shorter than the boundary (truncated), or when the bytes before the
 * boundary no longer have the committed fingerprint (rewritten in place, even with the same
 * length). The prefix is digested again on every scan, so a rewrite is found whatever the file's
 * size and modification time say. Bytes after the boundary never take part:
 * a writer appending while the scan runs makes a file APPENDED (or UNCHANGED while its line is
 * partial), never CHANGED. A file replaced or removed <em>while it is being looked at</em> is
 * {@link SpoolStatus#RACED}: nothing is decided and the next scan looks again.
 *
 * <p><b>Quarantine.</b> A CHANGED file is logged, reported and recorded in
 * {@code import/quarantine.json} under the data directory (replaced atomically), and is not
 * imported again until {@link #release released}; other files go on being imported. User files
 * are only ever read: never moved, truncated or modified.
 *
 * <p><b>Hostile directories.</b> Symbolic links are never followed (neither while walking nor
 * when opening a file); names with control characters or NUL, and hidden names (starting with
 * {@code .}, as writers use for files they have not finished), are ignored; every path is checked
 * to stay inside its directory with {@link FileSync#resolveInside}. Walks go at most
 * {@value #MAX_DEPTH} directories deep ({@code SpoolWalker}).
 *
 * <p><b>Read-only.</b> A scanner made {@code readOnly} (report-only) never writes: CHANGED files
 * are reported but not recorded, and {@link #release} throws {@link ReadOnlyStoreException}.
 *
 * <p><b>Thread-safety.</b> Thread-safe: {@link #scan}, {@link #open}, {@link #release} and
 * {@link #quarantined} hold one {@link ReentrantLock} (the scanner lock), which guards the
 * quarantine list, for their whole body, including the file reads of a scan. A returned
 * {@link ImportCursor} is not guarded by it and belongs to one caller.
 */
public final class SpoolScanner {
    private static final Logger LOG = LoggerFactory.getLogger(SpoolScanner.class);

    /** Prefix of every spool source name. */
    public static final String SOURCE_PREFIX = "spool:";
    /** Suffix of the files a scan picks up. */
    public static final String SPOOL_SUFFIX = ".jsonl";
    /** Prefix of names a scan ignores (files a writer has not finished, by convention). */
    public static final String HIDDEN_PREFIX = ".";
    /** The directory, under the data directory, of import state. */
    public static final String IMPORT_DIR = QuarantineList.IMPORT_DIR;
    /** The quarantine list's file name in {@link #IMPORT_DIR}. */
    public static final String QUARANTINE_FILE = QuarantineList.FILE_NAME;
    /** How many directory levels below a spool directory are walked. */
    public static final int MAX_DEPTH = 8;

    private static final int SCAN_CHUNK = 64 << 10;

    private final ReentrantLock lock = new ReentrantLock();
    private final List<SpoolDirectory> directories;
    private final int maxLineBytes;
    private final boolean readOnly;
    private final Clock clock;
    private final QuarantineList quarantine; // guarded by lock

    /**
     * A scanner over {@code directories}, keeping its quarantine list under {@code dataDir}.
     *
     * @throws StoreException when the quarantine list exists but cannot be read
     */
    public SpoolScanner(Path dataDir, List<SpoolDirectory> directories, int maxLineBytes, boolean readOnly,
            Clock clock) {
        Objects.requireNonNull(dataDir, "dataDir");
        this.directories = List.copyOf(directories);
        Set<String> names = new HashSet<>();
        for (SpoolDirectory d : this.directories) {
            if (!names.add(d.name())) {
                throw new IllegalArgumentException("two spool directories are named '" + d.name() + "'");
            }
        }
        if (maxLineBytes < 1) {
            throw new IllegalArgumentException("maxLineBytes = " + maxLineBytes + " must be positive");
        }
        this.maxLineBytes = maxLineBytes;
        this.readOnly = readOnly;
        this.clock = Objects.requireNonNull(clock, "clock");
        this.quarantine = QuarantineList.load(dataDir.toAbsolutePath().normalize());
    }

    /** A scanner with {@link LineReader#DEFAULT_MAX_LINE_BYTES} and the system clock. */
    public static SpoolScanner create(Path dataDir, List<SpoolDirectory> directories, boolean readOnly) {
        return new SpoolScanner(dataDir, directories, LineReader.DEFAULT_MAX_LINE_BYTES, readOnly, Clock.systemUTC());
    }

    /** {@code spool:<directory name>/<relative name>}. */
    public static String sourceName(SpoolDirectory directory, String relativeName) {
        return SOURCE_PREFIX + directory.name() + "/" + relativeName;
    }

    /** The configured directories. */
    public List<SpoolDirectory> directories() {
        return directories;
    }

    /** Whether this scanner never writes. */
    public boolean readOnly() {
        return readOnly;
    }

    /**
     * Finds every spool file and decides its status against {@code committed} (the store's
     * {@link dev.tally.store.UsageStore#importPositions()}; other sources are ignored). Newly
     * CHANGED files are quarantined (unless read-only). Sorted by source name. A directory that
     * cannot be read is logged and skipped; the others are still scanned.
     */
    public List<SpoolFile> scan(Map<String, ImportPosition> committed) {
        lock.lock();
        try {
            List<SpoolFile> out = new ArrayList<>();
            boolean dirty = false;
            for (SpoolDirectory dir : directories) {
                for (Listed c : SpoolWalker.list(dir)) {
                    Inspection in = inspect(c, committed.get(c.source()), true);
                    closeQuietly(in.channel);
                    dirty |= in.quarantineChanged;
                    out.add(in.file);
                }
            }
            dirty |= dropObsoleteReleases(committed);
            if (dirty) {
                saveQuietly();
            }
            out.sort((a, b) -> a.source().compareTo(b.source()));
            return out;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Opens a file that a scan found NEW, APPENDED or UNCHANGED, verifying
     * again that its committed prefix is unchanged (time has passed since the scan), and returns
     * a cursor that reads on from the committed boundary.
     *
     * @param file      a file from {@link #scan}
     * @param committed its committed position now (null if none)
     * @throws SpoolFileChangedException when it is CHANGED, QUARANTINED, RACED or UNREADABLE now
     *                                   (a CHANGED file is then quarantined unless the scanner is
     *                                   read-only)
     * @throws IOException               when it cannot be read
     */
    public ImportCursor open(SpoolFile file, ImportPosition committed) throws IOException {
        lock.lock();
        try {
            Listed c = new Listed(file.directory(), file.relativeName(), file.path(), file.source());
            Inspection in = inspect(c, committed, false);
            if (in.quarantineChanged) {
                saveQuietly();
            }
            SpoolStatus st = in.file.status();
            if (st != SpoolStatus.NEW && st != SpoolStatus.APPENDED && st != SpoolStatus.UNCHANGED) {
                closeQuietly(in.channel);
                throw new SpoolFileChangedException(in.file);
            }
            try {
                ImportPosition start = in.file.startPosition();
                in.channel.position(start.offset());
                LineReader reader = new LineReader(in.channel, start.offset(), maxLineBytes,
                        LineReader.DEFAULT_BUFFER_BYTES, in.fingerprint);
                return new ImportCursor(in.file, reader, in.file.identity());
            } catch (IOException | RuntimeException e) {
                closeQuietly(in.channel);
                throw e;
            }
        } finally {
            lock.unlock();
        }
    }

    /** Opens {@code file} from {@code committed}, reads one batch of at most {@code maxLines}, closes it. */
    public ImportBatch nextBatch(SpoolFile file, ImportPosition committed, int maxLines) throws IOException {
        try (ImportCursor cursor = open(file, committed)) {
            return cursor.next(maxLines);
        }
    }

    /**
     * One spool file as {@link #list()} found it, not yet read.
     *
     * @param directory    the spool directory it is in
     * @param relativeName its path below the directory, with {@code /} separators
     * @param path         its absolute path
     * @param source       its source name, {@code spool:<directory name>/<relative name>}
     */
    public record Listed(SpoolDirectory directory, String relativeName, Path path, String source) {
    }

    /**
     * Every spool file a {@link #scan} would look at, found by the same rules (no links, no
     * hidden or control-character names, inside its directory), without reading or deciding
     * anything. Sorted by source name. Writes nothing, whatever {@link #readOnly()} says.
     */
    public List<Listed> list() {
        List<Listed> out = new ArrayList<>();
        for (SpoolDirectory dir : directories) {
            out.addAll(SpoolWalker.list(dir));
        }
        out.sort((a, b) -> a.source().compareTo(b.source()));
        return out;
    }

    /** The quarantined files, by source name. */
    public List<QuarantineEntry> quarantined() {
        lock.lock();
        try {
            return List.copyOf(quarantine.entries());
        } finally {
            lock.unlock();
        }
    }

    /**
     * Takes a file out of quarantine: it will be imported again <em>from the start</em>, and the
     * store drops the events it already holds as duplicates (by tenant and id). The release is
     * durable before this returns.
     *
     * @return whether the source was quarantined
     * @throws ReadOnlyStoreException when the scanner is read-only
     * @throws StoreException         when the list cannot be written (the file stays quarantined)
     */
    public boolean release(String source) {
        lock.lock();
        try {
            if (readOnly) {
                throw new ReadOnlyStoreException("release quarantined spool file " + source);
            }
            QuarantineEntry e = quarantine.removeQuarantined(source);
            if (e == null) {
                return false;
            }
            QuarantineList.Release previous = quarantine.release(source);
            quarantine.putRelease(new QuarantineList.Release(source, e.committed(), clock.instant()));
            try {
                quarantine.save();
            } catch (IOException ex) {
                quarantine.removeRelease(source);
                if (previous != null) {
                    quarantine.putRelease(previous);
                }
                quarantine.putQuarantined(e);
                throw new StoreException("cannot write " + quarantine.file() + ": " + ex.getMessage(), ex);
            }
            LOG.info("released spool file {} from quarantine; it is imported again from the start", source);
            return true;
        } finally {
            lock.unlock();
        }
    }

    // ---------------------------------------------------------------------------------------------

    private static final class Inspection {
        SpoolFile file;
        FileChannel channel;
        PrefixFingerprint fingerprint;
        boolean quarantineChanged;
    }

    /**
     * Decides one file's status against {@code committed}; on an importable file leaves the
     * channel open with the verified fingerprint of the start prefix. Quarantines CHANGED files.
     */
    private Inspection inspect(Listed c, ImportPosition committed, boolean lookForLines) {
        Inspection in = new Inspection();
        QuarantineEntry q = quarantine.entry(c.source());
        if (q != null) {
            in.file = decision(c, SpoolStatus.QUARANTINED, q.reason(), "quarantined since " + q.quarantinedAt()
                    + ": " + q.detail(), q.committed(), -1, "", false);
            return in;
        }
        ImportPosition effective = committed;
        QuarantineList.Release release = quarantine.release(c.source());
        if (release != null && (committed == null || committed.equals(release.superseded()))) {
            effective = null; // released: import again from the start
        }
        String id1;
        FileChannel ch = null;
        try {
            BasicFileAttributes attrs = Files.readAttributes(c.path(), BasicFileAttributes.class,
                    LinkOption.NOFOLLOW_LINKS);
            if (!attrs.isRegularFile()) {
                // Never open a link, a FIFO (an open would block) or a device put in its place.
                in.file = decision(c, SpoolStatus.UNREADABLE, null, "no longer a plain file", committed, -1, "",
                        false);
                return in;
            }
            id1 = PrefixFingerprint.identity(c.path());
            ch = FileChannel.open(c.path(), StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS);
            String id2 = PrefixFingerprint.identity(c.path());
            if (!id1.equals(id2)) {
                closeQuietly(ch);
                in.file = decision(c, SpoolStatus.RACED, null, "replaced while it was being opened", committed,
                        -1, id2, false);
                return in;
            }
            long size = ch.size();
            in.channel = ch;
            if (effective == null) {
                in.fingerprint = PrefixFingerprint.empty();
                boolean lines = lookForLines ? hasNewline(ch, 0, size) : size > 0;
                in.file = decision(c, SpoolStatus.NEW, null, release != null ? "released; imported again from "
                        + "the start" : "not imported yet", null, size, id1, lines);
                return in;
            }
            PositionCheck.SpoolResult check = PositionCheck.spool(effective, id1, ch);
            if (check.changed()) {
                closeQuietly(ch);
                in.channel = null;
                in.file = decision(c, SpoolStatus.CHANGED, check.drift().reason(), check.drift().detail(), effective,
                        size, id1, false);
                in.quarantineChanged = quarantine(in.file);
                return in;
            }
            in.fingerprint = check.fingerprint();
            boolean lines = lookForLines ? hasNewline(ch, effective.offset(), size) : size > effective.offset();
            in.file = decision(c, lines ? SpoolStatus.APPENDED : SpoolStatus.UNCHANGED, null,
                    lines ? "complete lines follow byte " + effective.offset()
                            : size > effective.offset() ? "only a partial line follows byte " + effective.offset()
                            : "nothing follows byte " + effective.offset(),
                    effective, size, id1, lines);
            return in;
        } catch (NoSuchFileException e) {
            closeQuietly(ch);
            in.channel = null;
            in.file = decision(c, SpoolStatus.RACED, null, "removed while it was being looked at", committed, -1, "",
                    false);
            return in;
        } catch (IOException e) {
            closeQuietly(ch);
            in.channel = null;
            in.file = decision(c, SpoolStatus.UNREADABLE, null, "could not be read as a plain file: " + e,
                    committed, -1, "", false);
            LOG.warn("spool file {}: {}", c.source(), in.file.detail());
            return in;
        }
    }

    private static SpoolFile decision(Listed c, SpoolStatus status, ChangeReason reason, String detail,
            ImportPosition committed, long size, String identity, boolean lines) {
        return new SpoolFile(c.source(), c.directory(), c.relativeName(), c.path(), status, reason, detail, committed,
                size, identity, lines);
    }

    /** Records a CHANGED file; returns whether the list changed (false when read-only). */
    private boolean quarantine(SpoolFile f) {
        LOG.error("spool file {} changed after it was imported ({}): {}; it is quarantined and not imported "
                + "again until released", f.source(), f.changeReason().code(), f.detail());
        if (readOnly) {
            return false;
        }
        quarantine.putQuarantined(new QuarantineEntry(f.source(), f.changeReason(), f.detail(), f.committed(),
                f.size(), f.identity(), clock.instant()));
        quarantine.removeRelease(f.source());
        return true;
    }

    /** Drops releases whose superseded position is no longer the committed one. */
    private boolean dropObsoleteReleases(Map<String, ImportPosition> committed) {
        if (readOnly) {
            return false;
        }
        boolean changed = false;
        for (QuarantineList.Release r : List.copyOf(quarantine.releases())) {
            ImportPosition now = committed.get(r.source());
            if (now != null && !now.equals(r.superseded())) {
                quarantine.removeRelease(r.source());
                changed = true;
            }
        }
        return changed;
    }

    private void saveQuietly() {
        try {
            quarantine.save();
        } catch (IOException e) {
            // The files stay CHANGED in this scan's answer and are found again by the next one.
            LOG.error("cannot write {}: {}", quarantine.file(), e.toString());
        }
    }

    /** Whether {@code [from, size)} holds a '\n', read in bounded chunks. */
    private static boolean hasNewline(FileChannel ch, long from, long size) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate((int) Math.min(SCAN_CHUNK, Math.max(1, size - from)));
        long pos = from;
        while (pos < size) {
            buf.clear();
            int n = ch.read(buf, pos);
            if (n < 0) {
                return false;
            }
            byte[] a = buf.array();
            for (int i = 0; i < n; i++) {
                if (a[i] == '\n') {
                    return true;
                }
            }
            pos += n;
        }
        return false;
    }

    private static void closeQuietly(FileChannel ch) {
        if (ch == null) {
            return;
        }
        try {
            ch.close();
        } catch (IOException e) {
            LOG.debug("closing a spool file failed: {}", e.toString());
        }
    }
}
