package dev.tally.store.internal;

import dev.tally.store.ImportPosition;
import dev.tally.store.StoreConfig;
import dev.tally.store.StoreException;
import dev.tally.store.io.FileSync;
import dev.tally.store.read.Snapshot;
import dev.tally.store.read.SnapshotInfo;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.OptionalLong;
import java.util.TreeSet;
import java.util.stream.Stream;
import java.util.zip.CRC32C;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A private, consistent, read-only copy of a store's tiers for one verify run (or a report-only
 * reader of a store whose writer runs elsewhere, {@link ReadOnlySnapshot}), taken without any
 * of the store's locks and without ever opening the store's own DuckDB files.
 *
 * <p><b>Why copies.</b> The daemon holds its active and pending segment files open read-write, and
 * DuckDB refuses a second process attaching them (even read-only) while it does. The other way
 * round is as bad: a read-only attach takes a shared lock that keeps a daemon from starting (or
 * reopening) until verify ends. So the segments are never attached in place: each
 * {@code <seq>.duckdb} and its {@code .duckdb.wal} is copied into a temporary directory, and the
 * copy is accepted only when size, modification time and identity of both files are the same
 * before and after the copy and a second read of each gives the same CRC32C as the copy. Otherwise
 * the copy is retried (a few times, with a short pause); a segment that never holds still is left
 * out and the snapshot is marked incomplete, which makes the events it could hold
 * inconclusive to verify (fail closed), never unchanged or pending.
 *
 * <p><b>Sealed parts</b> are immutable and named by the manifest; they are hard-linked into the
 * snapshot directory, which pins them: retention can unlink its name but not the data verify
 * reads. When the temporary directory is on another file system, they are symbolically linked
 * instead (not pinned: a part deleted mid-run makes the run fail loudly).
 *
 * <p><b>Consistency.</b> The manifest is read before the segments are listed and copied and again
 * after; the snapshot is kept only if both reads are byte-identical (no seal or retention published
 * meanwhile), else it is taken again. Every segment but the highest listed is already rolled and
 * final, and the highest holds its rows and the import positions in one transaction, so the copied
 * tiers hold every row exactly once and the positions describe exactly those rows.
 *
 * <p>The copies are opened with the store's own loader as a report-only {@link TieredStore} (its
 * own in-memory DuckDB instance), which never writes and refuses every write entry point. The
 * directory is deleted on {@link #close()}. Nothing is ever written in the data directory.
 *
 * <p>Not thread-safe: one run's.
 */
public final class StoreSnapshot implements Snapshot {
    private static final Logger log = LoggerFactory.getLogger(StoreSnapshot.class);
    /** Tries to copy one segment consistently before it is given up as inconclusive. */
    static final int COPY_TRIES = 5;
    private static final int COPY_BUFFER = 1 << 20;


    private final Path dir;
    private final TieredStore store;
    private final SnapshotInfo info;

    private StoreSnapshot(Path dir, TieredStore store, SnapshotInfo info) {
        this.dir = dir;
        this.store = store;
        this.info = info;
    }

    @Override
    public TieredStore store() {
        return store;
    }

    @Override
    public SnapshotInfo info() {
        return info;
    }

    /** The import positions of the snapshot, or null when they are unknown. */
    @Override
    public Map<String, ImportPosition> positions() {
        return info.positionsKnown() ? store.importPositions() : null;
    }

    /**
     * Takes the snapshot.
     *
     * @param dataDir    the store's data directory (only read)
     * @param tempParent where the snapshot directory is made; must be outside {@code dataDir}
     * @param attempts   how often to start over when a seal or retention publishes meanwhile
     * @param taken      called as soon as the copy is consistent (before the copies are opened, which
     *                   takes a while), so the caller can stat its sources as close to the snapshot as
     *                   possible
     * @throws StoreException when the data directory is not a store, its manifest is damaged, or
     *                        the temporary directory cannot be written
     */
    public static StoreSnapshot take(Path dataDir, Path tempParent, Duration detailRetention, Duration rollupRetention,
            Clock clock, int attempts, CopyHook hook, Taken taken) {
        SegmentFiles src = new SegmentFiles(dataDir);
        if (!Files.isDirectory(dataDir)) {
            throw new StoreException("no store at " + dataDir + " to verify");
        }
        List<String> churn = new ArrayList<>();
        for (int attempt = 1; attempt <= attempts; attempt++) {
            Path dir = createDir(tempParent);
            try {
                Attempt a = attempt(src, dir, hook);
                if (a.consistent) {
                    SnapshotInfo info = new SnapshotInfo(a.manifest.lastSeq(), a.copied,
                            a.manifest.parts(PartKind.DETAIL).size(),
                            a.manifest.parts(PartKind.ROLLUP).size(), a.pinning, attempt,
                            a.problems.isEmpty(), !a.activeLost, a.problems, a.manifest.quarantined().stream()
                                    .map(q -> q.part().path() + " (" + q.reason() + ")").toList());
                    taken.run();
                    return new StoreSnapshot(dir, open(dir, detailRetention, rollupRetention, clock), info);
                }
                churn.add(a.why);
                log.info("verify snapshot attempt {} of {} taken again: {}", attempt, attempts, a.why);
            } catch (IOException | RuntimeException e) {
                deleteQuietly(dir);
                if (e instanceof StoreException se) {
                    throw se;
                }
                throw new StoreException("cannot take a snapshot of " + dataDir + " for verify: " + e.getMessage(), e);
            }
            deleteQuietly(dir);
            pause(attempt);
        }
        // Never consistent: compare against nothing, so that every undecidable line is
        // inconclusive, and say why.
        Path dir = createDir(tempParent);
        List<String> problems = List.of("no consistent snapshot in " + attempts + " attempts (" + String.join("; ", churn)
                + "); nothing was compared against the store");
        log.warn("verify: {}", problems.get(0));
        SnapshotInfo info = new SnapshotInfo(-1, List.of(), 0, 0, "none", attempts, false, false, problems,
                List.of());
        try {
            taken.run();
        } catch (IOException e) {
            deleteQuietly(dir);
            throw new StoreException("verify failed after its snapshot: " + e.getMessage(), e);
        }
        return new StoreSnapshot(dir, open(dir, detailRetention, rollupRetention, clock), info);
    }

    /** One try: what was copied and whether the manifest stayed the same. Confined to one thread. */
    private static final class Attempt {
        boolean consistent;
        String why = "";
        Manifest manifest;
        String pinning = "hard-link";
        final List<Long> copied = new ArrayList<>();
        final List<String> problems = new ArrayList<>();
        boolean activeLost;
    }

    private static Attempt attempt(SegmentFiles src, Path dir, CopyHook hook) throws IOException {
        Attempt a = new Attempt();
        byte[] before = readIfExists(src.manifest());
        if (before != null) {
            Files.write(dir.resolve(SegmentFiles.MANIFEST_FILE), before);
        }
        a.manifest = Manifest.read(dir.resolve(SegmentFiles.MANIFEST_FILE));
        for (SealedPart p : a.manifest.parts()) {
            Path from = FileSync.resolveInside(src.root(), p.path());
            Path to = FileSync.resolveInside(dir, p.path());
            Files.createDirectories(to.getParent());
            try {
                Files.createLink(to, from);
            } catch (NoSuchFileException e) {
                if (!Arrays.equals(before, readIfExists(src.manifest()))) {
                    a.why = "part " + p.path() + " was removed by a newer manifest";
                    return a;
                }
                // Named by the current manifest but not on disk: the store is damaged. Fail
                // closed: events it held cannot be found, so the snapshot is incomplete.
                a.problems.add("sealed part " + p.path() + " is named by the manifest but missing on disk");
            } catch (FileSystemException | UnsupportedOperationException e) {
                // Another file system (EXDEV) or no hard links: link by name instead.
                if (!Files.exists(from, LinkOption.NOFOLLOW_LINKS)) {
                    a.why = "part " + p.path() + " disappeared";
                    return a;
                }
                Files.createSymbolicLink(to, from);
                a.pinning = "symbolic-link";
            }
        }
        TreeSet<Long> seqs = segmentSeqs(src, a.manifest.lastSeq());
        Path segDir = dir.resolve(SegmentFiles.SEGMENTS_DIR);
        Files.createDirectories(segDir);
        for (long seq : seqs) {
            Copy c = copySegment(src, segDir, seq, hook);
            if (c == Copy.GONE) {
                a.why = "segment " + seq + " was sealed and removed while copying";
                return a;
            }
            if (c == Copy.UNSTABLE) {
                a.problems.add("segment " + seq + " changed during each of " + COPY_TRIES
                        + " copies; the events it holds could not be compared");
                if (seq == seqs.last()) {
                    a.activeLost = true;
                    a.problems.add("the import positions are held by segment " + seq
                            + ", so the consumed boundaries are unknown");
                }
            } else {
                a.copied.add(seq);
            }
        }
        byte[] after = readIfExists(src.manifest());
        if (!Arrays.equals(before, after)) {
            a.why = "a seal or retention published a new manifest while copying";
            return a;
        }
        // When the highest segment is lost the loader takes the next copy for the active one; its
        // positions are stale, so they are never used (SnapshotInfo.positionsKnown is false).
        a.consistent = true;
        return a;
    }

    private enum Copy { COPIED, GONE, UNSTABLE }

    /** Size, modification time and identity of a file, or null when it does not exist. */
    private record Stat(long size, FileTime modified, Object key) {
        static Stat of(Path p) throws IOException {
            try {
                BasicFileAttributes a = Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
                return new Stat(a.size(), a.lastModifiedTime(), a.fileKey());
            } catch (NoSuchFileException e) {
                return null;
            }
        }
    }

    private static Copy copySegment(SegmentFiles src, Path segDir, long seq, CopyHook hook) throws IOException {
        Path db = src.segment(seq);
        Path wal = src.segmentWal(seq);
        Path dbCopy = segDir.resolve(db.getFileName());
        Path walCopy = segDir.resolve(wal.getFileName());
        for (int k = 1; k <= COPY_TRIES; k++) {
            Stat db0 = Stat.of(db);
            Stat wal0 = Stat.of(wal);
            if (db0 == null) {
                return Copy.GONE;
            }
            long dbCrc;
            long walCrc = 0;
            try {
                dbCrc = copy(db, dbCopy);
                if (wal0 != null) {
                    walCrc = copy(wal, walCopy);
                } else {
                    Files.deleteIfExists(walCopy);
                }
            } catch (NoSuchFileException e) {
                if (Stat.of(db) == null) {
                    return Copy.GONE;
                }
                pause(k);
                continue; // the WAL was checkpointed away mid-copy
            }
            hook.afterCopy(seq, k);
            Stat db1 = Stat.of(db);
            Stat wal1 = Stat.of(wal);
            if (db1 == null) {
                return Copy.GONE;
            }
            if (db0.equals(db1) && Objects.equals(wal0, wal1) && dbCrc == crc(db)
                    && (wal0 == null || walCrc == crc(wal))) {
                return Copy.COPIED;
            }
            log.debug("segment {} changed while it was copied (try {}); copying again", seq, k);
            pause(k);
        }
        Files.deleteIfExists(dbCopy);
        Files.deleteIfExists(walCopy);
        return Copy.UNSTABLE;
    }

    /** Copies {@code from} to {@code to} (replacing it) and returns the CRC32C of the bytes copied. */
    private static long copy(Path from, Path to) throws IOException {
        CRC32C crc = new CRC32C();
        ByteBuffer buf = ByteBuffer.allocateDirect(COPY_BUFFER);
        try (FileChannel in = FileChannel.open(from, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS);
                FileChannel out = FileChannel.open(to, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                        StandardOpenOption.TRUNCATE_EXISTING)) {
            while (in.read(buf) >= 0) {
                buf.flip();
                crc.update(buf.duplicate());
                while (buf.hasRemaining()) {
                    out.write(buf);
                }
                buf.clear();
            }
        }
        return crc.getValue();
    }

    private static long crc(Path file) throws IOException {
        CRC32C crc = new CRC32C();
        ByteBuffer buf = ByteBuffer.allocateDirect(COPY_BUFFER);
        try (FileChannel in = FileChannel.open(file, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS)) {
            while (in.read(buf) >= 0) {
                buf.flip();
                crc.update(buf);
                buf.clear();
            }
        } catch (NoSuchFileException e) {
            return -1;
        }
        return crc.getValue();
    }

    private static TreeSet<Long> segmentSeqs(SegmentFiles src, long lastSeq) throws IOException {
        TreeSet<Long> seqs = new TreeSet<>();
        if (!Files.isDirectory(src.segmentsDir())) {
            return seqs;
        }
        try (Stream<Path> s = Files.list(src.segmentsDir())) {
            s.forEach(p -> {
                OptionalLong seq = SegmentFiles.segmentSeq(p.getFileName().toString());
                if (seq.isPresent() && seq.getAsLong() > lastSeq && Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) {
                    seqs.add(seq.getAsLong());
                }
            });
        }
        return seqs;
    }

    private static byte[] readIfExists(Path file) throws IOException {
        try {
            return Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            return null;
        }
    }

    private static TieredStore open(Path dir, Duration detailRetention, Duration rollupRetention, Clock clock) {
        StoreConfig config = new StoreConfig(dir, 64L << 20, Duration.ofHours(1), detailRetention, rollupRetention,
                detailRetention, Duration.ofMinutes(5), Duration.ofHours(1), Duration.ofDays(1), 0, true, clock);
        return TieredStore.open(config, Runnable::run);
    }

    private static Path createDir(Path tempParent) {
        try {
            Files.createDirectories(tempParent);
            return Files.createTempDirectory(tempParent, "tally-verify-");
        } catch (IOException e) {
            throw new StoreException("cannot create a snapshot directory for verify in " + tempParent + ": "
                    + e.getMessage(), e);
        }
    }

    private static void pause(int attempt) {
        try {
            Thread.sleep(10L * attempt);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StoreException("verify was interrupted while taking its snapshot");
        }
    }

    /** Closes the snapshot store and deletes the snapshot directory (links and copies only). */
    @Override
    public void close() {
        try {
            store.close();
        } finally {
            deleteQuietly(dir);
        }
    }

    private static void deleteQuietly(Path dir) {
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            log.warn("could not delete the verify snapshot directory {}: {}", dir, e.toString());
        }
    }
}
