package dev.tally.store.repair;

import dev.tally.store.StoreException;
import dev.tally.store.internal.FileSync;
import dev.tally.store.internal.Manifest;
import dev.tally.store.internal.PartKind;
import dev.tally.store.internal.SealedPart;
import dev.tally.store.internal.SegmentFiles;
import dev.tally.store.internal.TimeUtil;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Instant;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Offline repairs for damage recovery refuses to guess about. Each takes the store's lock (so the
 * worker must be stopped), keeps the damaged original under {@code quarantine/}, and reports
 * exactly what it changed and what was lost.
 *
 * <p>Thread-safe: stateless; the store lock serializes repairs with the store.
 */
public final class StoreRepair {
    private static final Pattern CORRUPT_WAL = Pattern.compile("entry at byte position (\\d+)");

    private StoreRepair() {
    }

    /**
     * Rebuilds {@code manifest.json} from the Parquet parts in {@code archive/} and
     * {@code rollups/}. Parts of a segment whose DuckDB file still exists are left out (recovery
     * seals that segment again), so no row becomes visible twice; a part that cannot be read is
     * quarantined and reported as lost.
     */
    public static RepairReport rebuildManifest(Path dataDir, Clock clock) {
        SegmentFiles files = new SegmentFiles(dataDir.toAbsolutePath().normalize());
        List<String> actions = new ArrayList<>();
        List<String> losses = new ArrayList<>();
        try (FileChannel ch = lock(files)) {
            Instant now = clock.instant();
            if (Files.exists(files.manifest())) {
                Path kept = FileSync.resolveInside(files.quarantineDir(), "manifest.json." + stamp(now));
                Files.createDirectories(kept.getParent());
                Files.copy(files.manifest(), kept, StandardCopyOption.REPLACE_EXISTING);
                actions.add("kept the damaged manifest as " + files.root().relativize(kept));
            }
            TreeSet<Long> segments = new TreeSet<>();
            for (Path f : list(files.segmentsDir(), 1)) {
                SegmentFiles.segmentSeq(f.getFileName().toString()).ifPresent(segments::add);
            }
            List<SealedPart> parts = new ArrayList<>();
            long maxPartSeq = 0;
            try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement s = c.createStatement()) {
                for (PartKind kind : PartKind.values()) {
                    Path dir = kind == PartKind.DETAIL ? files.archiveDir() : files.rollupsDir();
                    for (Path f : list(dir, 2)) {
                        OptionalLong seq = SegmentFiles.partSeq(f.getFileName().toString());
                        String dayDir = f.getParent().getFileName().toString();
                        if (seq.isEmpty() || !dayDir.startsWith("day=")) {
                            continue;
                        }
                        String rel = files.root().relativize(f).toString().replace('\\', '/');
                        if (segments.contains(seq.getAsLong())) {
                            actions.add("left out " + rel + ": its segment is still present and will be sealed again");
                            continue;
                        }
                        String col = kind == PartKind.DETAIL ? "time" : "hour";
                        try (ResultSet rs = s.executeQuery("SELECT count(*), epoch_us(min(" + col + ")), epoch_us(max("
                                + col + ")) FROM read_parquet('" + f.toString().replace("'", "''") + "')")) {
                            rs.next();
                            parts.add(new SealedPart(seq.getAsLong(), kind, LocalDate.parse(dayDir.substring(4)), rel,
                                    TimeUtil.fromMicros(rs.getLong(2)), TimeUtil.fromMicros(rs.getLong(3)), rs.getLong(1),
                                    Files.size(f), FileSync.crc32c(f)));
                            maxPartSeq = Math.max(maxPartSeq, seq.getAsLong());
                        } catch (SQLException e) {
                            Path q = FileSync.resolveInside(files.quarantineDir(), rel + "." + stamp(now));
                            Files.createDirectories(q.getParent());
                            FileSync.moveAtomically(f, q);
                            losses.add(rel + " cannot be read (" + firstLine(e.getMessage()) + "); moved to "
                                    + files.root().relativize(q) + " — its rows are not in the store");
                        }
                    }
                }
            }
            // Segments are sealed in order: everything below the oldest remaining segment is sealed.
            long lastSeq = segments.isEmpty() ? maxPartSeq : segments.first() - 1;
            Manifest rebuilt = new Manifest(lastSeq, parts);
            rebuilt.write(files.manifest());
            actions.add("wrote a new manifest with " + parts.size() + " parts, last sealed segment " + lastSeq);
            return new RepairReport(actions, losses);
        } catch (IOException | SQLException e) {
            throw new StoreException("manifest rebuild failed, nothing was replaced: " + e.getMessage(), e);
        }
    }

    /**
     * Repairs segments whose DuckDB write-ahead log DuckDB refuses to replay ("Corrupt WAL file:
     * entry at byte position N"): keeps a copy of the log under {@code quarantine/}, cuts it at
     * byte N, and checks that the segment now opens. Transactions committed after byte N are
     * lost; events still in journal or spool files are imported again, because the import
     * positions committed with them are cut too.
     */
    public static RepairReport repairWal(Path dataDir, Clock clock) {
        SegmentFiles files = new SegmentFiles(dataDir.toAbsolutePath().normalize());
        List<String> actions = new ArrayList<>();
        List<String> losses = new ArrayList<>();
        try (FileChannel ch = lock(files)) {
            for (Path f : list(files.segmentsDir(), 1)) {
                OptionalLong seq = SegmentFiles.segmentSeq(f.getFileName().toString());
                if (seq.isEmpty()) {
                    continue;
                }
                String error = tryOpen(f);
                if (error == null) {
                    continue;
                }
                Matcher m = CORRUPT_WAL.matcher(error);
                Path wal = files.segmentWal(seq.getAsLong());
                if (!m.find() || !Files.exists(wal)) {
                    losses.add(f.getFileName() + " does not open and is not a WAL problem this repair can fix: " + error);
                    continue;
                }
                long cut = Long.parseLong(m.group(1));
                long size = Files.size(wal);
                Path kept = FileSync.resolveInside(files.quarantineDir(),
                        "segments/" + wal.getFileName() + "." + stamp(clock.instant()));
                Files.createDirectories(kept.getParent());
                Files.copy(wal, kept, StandardCopyOption.REPLACE_EXISTING);
                try (FileChannel w = FileChannel.open(wal, StandardOpenOption.WRITE)) {
                    w.truncate(cut);
                    w.force(true);
                }
                actions.add("kept a copy of " + wal.getFileName() + " as " + files.root().relativize(kept)
                        + " and cut it at byte " + cut + " of " + size);
                losses.add(wal.getFileName() + ": " + (size - cut) + " bytes after byte " + cut
                        + " (the transactions committed there) are lost; their events are imported again from "
                        + "journal and spool files that are still on disk");
                String after = tryOpen(f);
                if (after != null) {
                    losses.add(f.getFileName() + " still does not open after the cut: " + after);
                } else {
                    actions.add(f.getFileName() + " opens again");
                }
            }
            if (actions.isEmpty() && losses.isEmpty()) {
                actions.add("every segment opens; nothing to repair");
            }
            return new RepairReport(actions, losses);
        } catch (IOException e) {
            throw new StoreException("WAL repair failed: " + e.getMessage(), e);
        }
    }

    /** Null when the segment attaches and reads, else DuckDB's message. */
    private static String tryOpen(Path segment) {
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement s = c.createStatement()) {
            s.execute("ATTACH '" + segment.toString().replace("'", "''") + "' AS probe (READ_ONLY)");
            try (ResultSet rs = s.executeQuery("SELECT count(*) FROM probe.main.usage_events")) {
                rs.next();
            }
            return null;
        } catch (SQLException e) {
            return firstLine(e.getMessage());
        }
    }

    private static FileChannel lock(SegmentFiles files) throws IOException {
        Files.createDirectories(files.root());
        FileChannel ch = FileChannel.open(files.lockFile(), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        FileLock lock;
        try {
            lock = ch.tryLock();
        } catch (IOException e) {
            ch.close();
            throw e;
        }
        if (lock == null) {
            ch.close();
            throw new StoreException("the store in " + files.root() + " is open (" + files.lockFile()
                    + " is locked): stop the worker before repairing");
        }
        return ch;
    }

    private static List<Path> list(Path dir, int depth) throws IOException {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> s = Files.walk(dir, depth)) {
            return s.filter(Files::isRegularFile).filter(p -> {
                String n = p.getFileName().toString();
                return n.endsWith(SegmentFiles.PARQUET_SUFFIX) || n.endsWith(SegmentFiles.SEGMENT_SUFFIX);
            }).sorted().toList();
        }
    }

    private static String stamp(Instant t) {
        return t.toString().replace(':', '-');
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "unknown error";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}
