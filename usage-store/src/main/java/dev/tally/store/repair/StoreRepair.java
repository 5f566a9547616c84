package dev.tally.store.repair;

import dev.tally.store.StoreException;
import dev.tally.store.io.FileSync;
import dev.tally.store.internal.Manifest;
import dev.tally.store.internal.PartKind;
import dev.tally.store.io.ProcessLocks;
import dev.tally.store.internal.SealedPart;
import dev.tally.store.internal.SegmentFiles;
import dev.tally.store.engine.TimeUtil;
import java.io.IOException;
import java.nio.channels.FileChannel;
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
    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(StoreRepair.class);
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
        try (Held held = lock(files)) {
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
                    // Compacted parts first: per unit folder the highest generation wins (a lower one,
                    // or the sealed parts it holds, are left by a compaction that crashed before or
                    // after its manifest swap; the highest was verified before its rename).
                    java.util.Map<Path, Path> newest = new java.util.HashMap<>();
                    for (Path f : list(dir, 2)) {
                        OptionalLong gen = SegmentFiles.compactedGeneration(f.getFileName().toString());
                        if (gen.isEmpty()) {
                            continue;
                        }
                        Path best = newest.get(f.getParent());
                        if (best == null || SegmentFiles.compactedGeneration(best.getFileName().toString())
                                .getAsLong() < gen.getAsLong()) {
                            newest.put(f.getParent(), f);
                        }
                    }
                    List<SealedPart> compacted = new ArrayList<>();
                    for (Path f : newest.values()) {
                        String unitDir = f.getParent().getFileName().toString();
                        long[] range = SegmentFiles.compactedRange(f.getFileName().toString());
                        LocalDate unit = LocalDate.parse(unitDir.substring(unitDir.indexOf('=') + 1));
                        SealedPart p = readPart(s, files, f, kind, range[1], unit, new SealedPart.Compaction(range[0],
                                List.of()), losses, now);
                        if (p != null) {
                            compacted.add(p);
                            maxPartSeq = Math.max(maxPartSeq, p.seq());
                        }
                    }
                    parts.addAll(compacted);
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
                        LocalDate day = LocalDate.parse(dayDir.substring(4));
                        SealedPart holder = compacted.stream().filter(cp -> cp.coversSeq(seq.getAsLong())
                                && !day.isBefore(cp.firstDay()) && !day.isAfter(cp.lastDay())).findFirst().orElse(null);
                        if (holder != null) {
                            actions.add("left out " + rel + ": its rows are in the compacted part " + holder.path());
                            continue;
                        }
                        SealedPart p = readPart(s, files, f, kind, seq.getAsLong(), day, null, losses, now);
                        if (p != null) {
                            parts.add(p);
                            maxPartSeq = Math.max(maxPartSeq, seq.getAsLong());
                        }
                    }
                }
            }
            // A compacted rollup part's lost-detail days cannot be read back from its file: a day
            // counts as lost when no detail part left holds that day for the part's segments.
            List<SealedPart> detail = parts.stream().filter(p -> p.kind() == PartKind.DETAIL).toList();
            for (int i = 0; i < parts.size(); i++) {
                SealedPart r = parts.get(i);
                if (r.kind() != PartKind.ROLLUP || !r.compacted()) {
                    continue;
                }
                List<LocalDate> lost = new ArrayList<>();
                for (LocalDate d = r.firstDay(); !d.isAfter(r.lastDay()); d = d.plusDays(1)) {
                    LocalDate day = d;
                    if (detail.stream().noneMatch(x -> x.seq() >= r.minSeq() && x.minSeq() <= r.seq()
                            && !day.isBefore(x.firstDay()) && !day.isAfter(x.lastDay()))) {
                        lost.add(day);
                    }
                }
                if (!lost.isEmpty()) {
                    parts.set(i, r.withLostDetailDays(lost));
                    actions.add("recorded " + lost.size() + " day(s) of " + r.path() + " as having no detail");
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
        try (Held held = lock(files)) {
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

    /**
     * Sets aside every live segment that does not open (the DuckDB file or its write-ahead log is
     * damaged, so the store opens degraded): the active one, or a pending one (rolled, not yet
     * sealed). Each goes, write-ahead log first, to {@code quarantine/segments/} with a
     * {@code .reason} file beside it, so the next open starts a fresh active segment. Its rows are
     * gone from the store, and with them the import positions committed there: the next import
     * reads the journal and spool files from the last position still held (from the start when
     * none is), and the dedup index, rebuilt from the sealed parts and the live segments, drops
     * every event already stored, so each journaled event ends stored once. Events appended through
     * the library API without a journal cannot be recovered.
     *
     * <p>A damaged <em>pending</em> segment has healthy segments above it, and those carry import
     * positions past its events (each new segment starts with its predecessor's positions). Their
     * positions are cleared, so the next import reads every journal and spool file from the start
     * and the events of the damaged segment come back (the journal keeps them until sealed).
     *
     * <p>Only segments above the manifest's last sealed sequence are looked at: a lower file is
     * already published.
     *
     * @param apply false: only report what would be done (nothing is changed)
     */
    public static RepairReport repairActive(Path dataDir, Clock clock, boolean apply) {
        SegmentFiles files = new SegmentFiles(dataDir.toAbsolutePath().normalize());
        List<String> actions = new ArrayList<>();
        List<String> losses = new ArrayList<>();
        try (Held held = lock(files)) {
            long lastSealed = Files.exists(files.manifest()) ? Manifest.read(files.manifest()).lastSeq() : 0;
            TreeSet<Long> seqs = new TreeSet<>();
            for (Path f : list(files.segmentsDir(), 1)) {
                OptionalLong q = SegmentFiles.segmentSeq(f.getFileName().toString());
                if (q.isPresent() && q.getAsLong() > lastSealed) {
                    seqs.add(q.getAsLong());
                }
            }
            if (seqs.isEmpty()) {
                actions.add("no active segment on disk; nothing to repair");
                return new RepairReport(actions, losses);
            }
            java.util.TreeMap<Long, String> damaged = new java.util.TreeMap<>();
            for (long seq : seqs) {
                String error = tryOpen(files.segment(seq));
                if (error != null) {
                    damaged.put(seq, error);
                }
            }
            if (damaged.isEmpty()) {
                actions.add("the active segment " + files.segment(seqs.last()).getFileName() + (seqs.size() > 1
                        ? " and the pending ones open" : " opens") + "; nothing to repair");
                return new RepairReport(actions, losses);
            }
            String verb = apply ? "moved " : "would move (run with --apply) ";
            String stamp = stamp(clock.instant());
            for (var d : damaged.entrySet()) {
                long seq = d.getKey();
                String role = seq == seqs.last() ? "active" : "pending";
                Path segment = files.segment(seq);
                Path wal = files.segmentWal(seq);
                Path keptSegment = FileSync.resolveInside(files.quarantineDir(), "segments/" + segment.getFileName()
                        + "." + stamp);
                Path keptWal = FileSync.resolveInside(files.quarantineDir(), "segments/" + wal.getFileName() + "."
                        + stamp);
                Path reasonFile = FileSync.resolveInside(files.quarantineDir(), "segments/" + segment.getFileName()
                        + "." + stamp + ".reason");
                if (apply) {
                    Files.createDirectories(keptSegment.getParent());
                    String reason = role + " segment " + seq + " set aside by 'repair active' at " + clock.instant()
                            + ": it does not open: " + d.getValue() + "\n";
                    FileSync.writeAtomically(reasonFile, reason.getBytes(java.nio.charset.StandardCharsets.UTF_8));
                    // The log goes first: a log left beside a missing segment would be replayed into
                    // the fresh segment the next open creates under the same name.
                    if (Files.exists(wal)) {
                        FileSync.moveAtomically(wal, keptWal);
                        actions.add(verb + "its write-ahead log to " + files.root().relativize(keptWal));
                    }
                    FileSync.moveAtomically(segment, keptSegment);
                    log.error("repair active: moved the damaged {} segment {} to {}: {}", role,
                            segment.getFileName(), files.root().relativize(keptSegment), d.getValue());
                } else if (Files.exists(wal)) {
                    actions.add(verb + "its write-ahead log to " + files.root().relativize(keptWal));
                }
                actions.add(verb + "the " + role + " segment " + segment.getFileName() + " (it does not open: "
                        + d.getValue() + ") to " + files.root().relativize(keptSegment) + (apply ? ", with the reason "
                        + "in " + files.root().relativize(reasonFile) : "")
                        + (role.equals("active") ? "; the next open starts a fresh active segment" : ""));
                losses.add("the rows of segment " + seq + " and the import positions committed with them "
                        + (apply ? "are" : "would be") + " out of the store. Run import next: events still in "
                        + "journal or spool files are imported again (those already stored are dropped by id); "
                        + "events appended through the library API without a journal cannot be recovered");
            }
            // Healthy segments above a damaged one hold positions past its events: clear them.
            for (long seq : seqs.tailSet(damaged.firstKey(), false)) {
                if (damaged.containsKey(seq)) {
                    continue;
                }
                Path segment = files.segment(seq);
                if (apply) {
                    clearImportPositions(segment);
                }
                actions.add((apply ? "cleared" : "would clear") + " the import positions of segment "
                        + segment.getFileName() + " (they are past the events of segment " + damaged.firstKey()
                        + "): the next import reads every journal and spool file from the start, and events "
                        + "already stored are dropped by id");
            }
            return new RepairReport(actions, losses);
        } catch (IOException | SQLException e) {
            throw new StoreException("active segment repair failed: " + e.getMessage(), e);
        }
    }

    /** Deletes every import position of a healthy segment and checkpoints it, so nothing stays in its log. */
    private static void clearImportPositions(Path segment) throws SQLException {
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement s = c.createStatement()) {
            s.execute("ATTACH '" + segment.toString().replace("'", "''") + "' AS seg");
            s.execute("DELETE FROM seg.main.import_positions");
            s.execute("CHECKPOINT seg");
            s.execute("DETACH seg");
        }
    }

    /** Null when the segment attaches and reads, else DuckDB's message. */
    private static String tryOpen(Path segment) {
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement s = c.createStatement()) {
            s.execute("ATTACH '" + segment.toString().replace("'", "''") + "' AS probe (READ_ONLY)");
            dev.tally.store.internal.SegmentProbe.check(s, "probe");
            return null;
        } catch (SQLException e) {
            return firstLine(e.getMessage());
        }
    }

    /** The store lock, held until closed. */
    private record Held(FileChannel channel, Path lockFile) implements AutoCloseable {
        @Override
        public void close() throws IOException {
            try {
                channel.close();
            } finally {
                ProcessLocks.release(lockFile);
            }
        }
    }

    private static Held lock(SegmentFiles files) throws IOException {
        Files.createDirectories(files.root());
        if (!ProcessLocks.claim(files.lockFile())) {
            throw new StoreException("the store in " + files.root() + " is open in this process: close it before repairing");
        }
        FileChannel ch = null;
        try {
            ch = FileChannel.open(files.lockFile(), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            if (ch.tryLock() == null) {
                throw new StoreException("the store in " + files.root() + " is open (" + files.lockFile()
                        + " is locked): stop the worker before repairing");
            }
            return new Held(ch, files.lockFile());
        } catch (IOException | RuntimeException e) {
            if (ch != null) {
                ch.close();
            }
            ProcessLocks.release(files.lockFile());
            throw e;
        }
    }

    /** Reads a part's row count and time range; a file that cannot be read is quarantined and reported. */
    private static SealedPart readPart(Statement s, SegmentFiles files, Path f, PartKind kind, long seq, LocalDate day,
            SealedPart.Compaction compaction, List<String> losses, Instant now) throws IOException {
        String rel = files.root().relativize(f).toString().replace('\\', '/');
        String col = kind == PartKind.DETAIL ? "time" : "hour";
        try (ResultSet rs = s.executeQuery("SELECT count(*), epoch_us(min(" + col + ")), epoch_us(max("
                + col + ")) FROM read_parquet('" + f.toString().replace("'", "''") + "')")) {
            rs.next();
            return new SealedPart(seq, kind, day, rel, TimeUtil.fromMicros(rs.getLong(2)),
                    TimeUtil.fromMicros(rs.getLong(3)), rs.getLong(1), Files.size(f), FileSync.crc32c(f), compaction);
        } catch (SQLException e) {
            Path q = FileSync.resolveInside(files.quarantineDir(), rel + "." + stamp(now));
            Files.createDirectories(q.getParent());
            FileSync.moveAtomically(f, q);
            losses.add(rel + " cannot be read (" + firstLine(e.getMessage()) + "); moved to "
                    + files.root().relativize(q) + " — its rows are not in the store");
            return null;
        }
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
