package dev.tally.store.internal;

import dev.tally.store.io.FileSync;
import dev.tally.store.engine.Engine;
import dev.tally.store.engine.TimeUtil;

import dev.tally.store.StoreException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.DayOfWeek;
import java.time.Instant;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import org.duckdb.DuckDBConnection;

/**
 * Merges the sealed parts of closed days into one part per compaction unit and kind: a UTC
 * calendar month of rollups, an ISO week (Monday to Sunday, UTC) of detail. A unit compacted
 * before is compacted again with its previous compacted part as one of the sources, so a unit
 * never has more than one compacted part. The merged file is sorted like a sealed part (detail by
 * tenant, subject, time and id; rollups by tenant, type, subject, hour and property), so a
 * per-subject read skips most of its row groups, and one month of rollups is one file to open.
 *
 * <p>Each file is written under a {@code .tmp} name, forced, verified against its sources (row
 * count and the multiset of {@code (tenant, id)} by EXCEPT ALL for detail; row count and the
 * event count {@code sum(value_count)} for rollups), then renamed into place and the folder
 * forced. A detail part's key sidecar ({@link KeysFile}) is written before that rename.
 * Publishing it (the manifest swap) is the caller's step.
 *
 * <p>Why a week for detail: retention deletes a part when its newest row expires, so a compacted
 * detail part keeps its oldest day up to six days past {@code detailRetention}; a month would keep
 * it up to 30. Rollups are kept 400 days by default, so a month's slack there is small.
 *
 * <p>Not thread-safe: the store runs it under its maintenance lock.
 */
final class Compactor {
    private final Engine engine;
    private final SegmentFiles files;
    private final CrashPoint crash;

    Compactor(Engine engine, SegmentFiles files, CrashPoint crash) {
        this.engine = engine;
        this.files = files;
        this.crash = crash;
    }

    /**
     * One unit to compact.
     *
     * @param kind    detail or rollup
     * @param start   the unit's first day (Monday of the week, first of the month)
     * @param sources the parts merged: the unit's sealed parts of eligible days and any compacted part
     */
    record Unit(PartKind kind, LocalDate start, List<SealedPart> sources) {
        long rows() {
            return sources.stream().mapToLong(SealedPart::rows).sum();
        }
    }

    /** The first day of the unit that holds {@code day}. */
    static LocalDate unitOf(PartKind kind, LocalDate day) {
        return kind == PartKind.DETAIL ? day.with(DayOfWeek.MONDAY) : day.withDayOfMonth(1);
    }

    /**
     * Sealed parts a unit that was compacted before may collect for days it already holds (late
     * events, backfills) before it is compacted again for them alone. A unit is compacted again at
     * once when a new day of it becomes eligible (daily while its month or week is current); a
     * steady trickle of late parts for finished units would otherwise rewrite a whole month of
     * rollups at every maintenance pass.
     */
    static final int LATE_PARTS_TO_MERGE = 32;

    /**
     * The units of {@code kind} that have sealed (not yet compacted) parts of days up to
     * {@code lastDay}; each unit takes all of them or none, with its previous compacted part.
     * Rollups are compacted even from a single sealed part, so that every eligible day's rollups
     * are compacted before its detail: a detail unit is skipped while any of its eligible days
     * still has a sealed rollup part (see {@link DetailCoverage} for why that order keeps the
     * lost-detail record exact), and a lone sealed detail part is left alone.
     */
    static List<Unit> plan(Manifest m, PartKind kind, LocalDate lastDay) {
        TreeSet<LocalDate> rollupDays = new TreeSet<>();
        for (SealedPart r : m.parts(PartKind.ROLLUP)) {
            if (!r.compacted() && !r.day().isAfter(lastDay)) {
                rollupDays.add(r.day());
            }
        }
        Map<LocalDate, List<SealedPart>> fresh = new TreeMap<>();
        Map<LocalDate, List<SealedPart>> compacted = new TreeMap<>();
        for (SealedPart p : m.parts(kind)) {
            if (p.compacted()) {
                compacted.computeIfAbsent(p.day(), k -> new ArrayList<>()).add(p);
            } else if (!p.day().isAfter(lastDay)) {
                fresh.computeIfAbsent(unitOf(kind, p.day()), k -> new ArrayList<>()).add(p);
            }
        }
        List<Unit> out = new ArrayList<>();
        for (var e : fresh.entrySet()) {
            List<SealedPart> previous = compacted.getOrDefault(e.getKey(), List.of());
            List<SealedPart> added = e.getValue();
            if (kind == PartKind.DETAIL) {
                LocalDate end = e.getKey().plusDays(6);
                if (previous.size() + added.size() < 2
                        || !rollupDays.subSet(e.getKey(), true, end, true).isEmpty()) {
                    continue;
                }
            }
            if (!previous.isEmpty() && added.size() < LATE_PARTS_TO_MERGE) {
                LocalDate held = previous.stream().map(SealedPart::lastDay).max(LocalDate::compareTo).orElseThrow();
                if (added.stream().noneMatch(p -> p.day().isAfter(held))) {
                    continue; // only late parts for days it holds: wait for a new day or more of them
                }
            }
            List<SealedPart> sources = new ArrayList<>(previous);
            sources.addAll(added);
            out.add(new Unit(kind, e.getKey(), sources));
        }
        return out;
    }

    /** Writes, verifies and renames the merged part of {@code unit}; returns it, ready to publish. */
    SealedPart write(Unit unit, Manifest current) throws SQLException, IOException {
        long minSeq = unit.sources().stream().mapToLong(SealedPart::minSeq).min().orElseThrow();
        long seq = unit.sources().stream().mapToLong(SealedPart::seq).max().orElseThrow();
        long generation = 1;
        for (SealedPart p : unit.sources()) {
            if (p.compacted()) {
                String name = p.path().substring(p.path().lastIndexOf('/') + 1);
                generation = Math.max(generation, SegmentFiles.compactedGeneration(name).orElse(0) + 1);
            }
        }
        String rel = SegmentFiles.compactedPath(unit.kind(), unit.start(), minSeq, seq, generation);
        Path target = FileSync.resolveInside(files.root(), rel);
        Path dir = target.getParent();
        if (!Files.isDirectory(dir)) {
            Files.createDirectories(dir);
            FileSync.fsyncDirectory(dir.getParent());
        }
        // A file of this name not in the manifest is left by a compaction that crashed after its
        // rename; it is rewritten from the sources, which are still published.
        Files.deleteIfExists(target);
        Files.deleteIfExists(KeysFile.of(target));
        Files.deleteIfExists(TotalsFile.of(target));
        Path tmp = target.resolveSibling(target.getFileName() + SegmentFiles.TMP_SUFFIX);
        Files.deleteIfExists(tmp);
        List<Path> sourceFiles = new ArrayList<>();
        for (SealedPart p : unit.sources()) {
            sourceFiles.add(FileSync.resolveInside(files.root(), p.path()));
        }
        String sources = parquet(sourceFiles);
        String parquet = "read_parquet(" + Engine.literal(tmp) + ")";
        boolean detail = unit.kind() == PartKind.DETAIL;
        long expectedRows = unit.rows();
        try (DuckDBConnection c = engine.newConnection(); Statement s = c.createStatement()) {
            if (detail) {
                s.execute("COPY (SELECT " + SegmentSchema.PART_EVENT_COLUMNS + " FROM " + sources
                        + " ORDER BY tenant, subject, time, id) TO " + Engine.literal(tmp)
                        + " (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE " + Sealer.DETAIL_ROW_GROUP_ROWS
                        + ", FIELD_IDS " + SegmentSchema.DETAIL_FIELD_IDS + ")");
            } else {
                s.execute("COPY (SELECT " + SegmentSchema.PART_ROLLUP_COLUMNS + " FROM " + sources
                        + " ORDER BY tenant, type, subject, hour, property NULLS FIRST) TO " + Engine.literal(tmp)
                        + " (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE " + Sealer.ROLLUP_ROW_GROUP_ROWS
                        + ", FIELD_IDS " + SegmentSchema.ROLLUP_FIELD_IDS + ")");
            }
            FileSync.fsyncFile(tmp);
            crash.at(CrashPoint.COMPACT_PART_TMP);
            long written = single(s, "SELECT count(*) FROM " + parquet);
            String check;
            long expected;
            long got;
            if (detail) {
                check = "ids missing";
                expected = 0;
                got = single(s, "SELECT count(*) FROM (SELECT tenant, id FROM " + sources
                        + " EXCEPT ALL SELECT tenant, id FROM " + parquet + ")");
            } else {
                check = "events counted";
                expected = single(s, "SELECT coalesce(sum(value_count), 0) FROM " + sources + " WHERE property IS NULL");
                got = single(s, "SELECT coalesce(sum(value_count), 0) FROM " + parquet + " WHERE property IS NULL");
            }
            if (written != expectedRows || got != expected) {
                Files.deleteIfExists(tmp);
                throw new StoreException("compaction of " + rel + " failed verification: " + expectedRows
                        + " rows in " + unit.sources().size() + " sources, " + written + " written; " + check + " "
                        + got + ", expected " + expected + "; the sources stay published");
            }
            Instant min;
            Instant max;
            String col = detail ? "time" : "hour";
            try (ResultSet rs = s.executeQuery("SELECT epoch_us(min(" + col + ")), epoch_us(max(" + col + ")) FROM "
                    + parquet)) {
                rs.next();
                min = TimeUtil.fromMicros(rs.getLong(1));
                max = TimeUtil.fromMicros(rs.getLong(2));
            }
            if (detail) {
                writeKeys(s, parquet, KeysFile.of(target), seq, written);
            } else {
                TotalsFile.write(s, parquet, TotalsFile.of(target), got);
            }
            long crc = FileSync.crc32c(tmp);
            long bytes = Files.size(tmp);
            FileSync.moveAtomically(tmp, target);
            crash.at(CrashPoint.COMPACT_PART_RENAMED);
            List<LocalDate> lost = detail ? List.of() : lostDetailDays(unit, current);
            return new SealedPart(seq, unit.kind(), unit.start(), rel, min, max, written, bytes, crc,
                    new SealedPart.Compaction(minSeq, lost));
        }
    }

    /**
     * The days of a rollup unit whose detail is incomplete now: those its compacted source
     * recorded, and the days of sealed sources whose detail no part holds.
     */
    private static List<LocalDate> lostDetailDays(Unit unit, Manifest current) {
        List<LocalDate> lost = new ArrayList<>();
        DetailCoverage.Index detail = DetailCoverage.Index.of(current);
        for (SealedPart p : unit.sources()) {
            if (p.compacted()) {
                lost.addAll(p.lostDetailDays());
            } else if (!detail.covers(p.seq(), p.day())) {
                lost.add(p.day());
            }
        }
        return lost;
    }

    /**
     * Saves the merged detail part's key hashes beside it ({@link KeysFile}), all under its
     * {@code seq}, before the part is renamed into place: a published compacted part has its
     * sidecar like a sealed one. The sources' sidecars go with their parts.
     */
    private static void writeKeys(Statement s, String parquet, Path sidecar, long seq, long rows)
            throws SQLException, IOException {
        long[] hashes = new long[Math.toIntExact(rows)];
        int n = 0;
        try (ResultSet rs = s.executeQuery("SELECT key_hash FROM " + parquet)) {
            while (rs.next()) {
                if (n == hashes.length) {
                    throw new StoreException("compacted part " + sidecar.getFileName() + " returned more keys than its "
                            + rows + " rows; the sources stay published");
                }
                hashes[n++] = rs.getLong(1);
            }
        }
        if (n != rows) {
            throw new StoreException("compacted part " + sidecar.getFileName() + " returned " + n + " keys for " + rows
                    + " rows; the sources stay published");
        }
        KeysFile.write(sidecar, seq, hashes, n);
    }

    private static String parquet(List<Path> sourceFiles) {
        StringBuilder sb = new StringBuilder("read_parquet([");
        for (int i = 0; i < sourceFiles.size(); i++) {
            sb.append(i == 0 ? "" : ", ").append(Engine.literal(sourceFiles.get(i)));
        }
        return sb.append("])").toString();
    }

    private static long single(Statement s, String sql) throws SQLException {
        try (ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }
}
