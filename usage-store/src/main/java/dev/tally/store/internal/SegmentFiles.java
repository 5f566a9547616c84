package dev.tally.store.internal;

import java.nio.file.Path;
import java.time.LocalDate;
import java.util.OptionalLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The data directory layout and every file state, named once here.
 *
 * <pre>
 * dataDir/
 *   store.lock                           held by the one process that writes this store
 *   manifest.json                        sealed parts (detail and rollups), replaced atomically
 *   segments/00000000000000000042.duckdb active segment (highest sequence) or pending (lower)
 *   segments/00000000000000000042.duckdb.wal  DuckDB's own write-ahead log
 *   archive/day=2026-11-20/segment-00000000000000000041.parquet   sealed detail
 *   rollups/day=2026-11-20/segment-00000000000000000041.parquet   sealed hourly rollups
 *   archive/week=2026-11-16/compact-…-00000000000000000041-g1.parquet  compacted detail (one ISO week)
 *   rollups/month=2026-11-01/compact-…-00000000000000000041-g1.parquet compacted rollups (one month)
 *   quarantine/                          damaged files moved aside, never read again
 * </pre>
 *
 * <p>A DuckDB segment has no separate "pending" name: the segment with the highest sequence is
 * active and every lower one is pending (rolled, waiting to be sealed). Creating the next
 * segment is therefore the durable commit point of a rollover, and the rolled file can stay
 * attached for readers while it is sealed.
 *
 * <p>Thread-safe: stateless.
 */
public final class SegmentFiles {
    /** A file being written; deleted by recovery pass 1 if a crash left it. */
    public static final String TMP_SUFFIX = dev.tally.store.io.FileSync.TMP_SUFFIX;
    /** A file being deleted; recovery pass 2 finishes the deletion. */
    public static final String DELETED_SUFFIX = ".deleted";
    /** A DuckDB segment file (active or pending). */
    public static final String SEGMENT_SUFFIX = ".duckdb";
    /** DuckDB's write-ahead log beside a segment file. */
    public static final String WAL_SUFFIX = ".duckdb.wal";
    /** A sealed Parquet part. */
    public static final String PARQUET_SUFFIX = ".parquet";
    /**
     * File name prefix of a compacted part. Named in the manifest: live. Not named: written by a
     * compaction that crashed before its manifest swap; recovery pass 5b deletes it.
     */
    public static final String COMPACTED_PREFIX = "compact-";
    /** Folder prefix of a compaction unit of detail: the Monday of an ISO week. */
    public static final String WEEK_DIR_PREFIX = "week=";
    /** Folder prefix of a compaction unit of rollups: the first day of a UTC month. */
    public static final String MONTH_DIR_PREFIX = "month=";

    /**
     * The part a sidecar beside it belongs to (a {@link KeysFile} or a {@link TotalsFile}; the
     * part's relative path), or null when {@code rel} is no sidecar.
     */
    static String sidecarPart(String rel) {
        for (String suffix : new String[] {KeysFile.SUFFIX, TotalsFile.SUFFIX}) {
            if (rel.endsWith(PARQUET_SUFFIX + suffix)) {
                return rel.substring(0, rel.length() - suffix.length());
            }
        }
        return null;
    }

    public static final String LOCK_FILE = "store.lock";
    public static final String MANIFEST_FILE = "manifest.json";
    public static final String SEGMENTS_DIR = "segments";
    public static final String ARCHIVE_DIR = "archive";
    public static final String ROLLUPS_DIR = "rollups";
    public static final String QUARANTINE_DIR = "quarantine";

    private static final Pattern SEGMENT_NAME = Pattern.compile("(\\d{20})\\.duckdb");
    private static final Pattern PART_NAME = Pattern.compile("segment-(\\d{20})\\.parquet");
    private static final Pattern COMPACTED_NAME = Pattern.compile("compact-(\\d{20})-(\\d{20})-g(\\d+)\\.parquet");

    private final Path root;

    public SegmentFiles(Path root) {
        this.root = root;
    }

    public Path root() {
        return root;
    }

    public Path lockFile() {
        return root.resolve(LOCK_FILE);
    }

    public Path manifest() {
        return root.resolve(MANIFEST_FILE);
    }

    public Path segmentsDir() {
        return root.resolve(SEGMENTS_DIR);
    }

    public Path archiveDir() {
        return root.resolve(ARCHIVE_DIR);
    }

    public Path rollupsDir() {
        return root.resolve(ROLLUPS_DIR);
    }

    public Path quarantineDir() {
        return root.resolve(QUARANTINE_DIR);
    }

    public Path segment(long seq) {
        return segmentsDir().resolve(String.format("%020d", seq) + SEGMENT_SUFFIX);
    }

    public Path segmentWal(long seq) {
        return segmentsDir().resolve(String.format("%020d", seq) + WAL_SUFFIX);
    }

    /** The relative path of a sealed part: {@code archive/day=2026-11-20/segment-…parquet}. */
    public static String partPath(PartKind kind, LocalDate day, long seq) {
        String dir = kind == PartKind.DETAIL ? ARCHIVE_DIR : ROLLUPS_DIR;
        return dir + "/day=" + day + "/segment-" + String.format("%020d", seq) + PARQUET_SUFFIX;
    }

    /**
     * The relative path of a compacted part: {@code archive/week=2026-11-16/compact-<minSeq>-<seq>-g<n>.parquet}
     * or {@code rollups/month=2026-11-01/…}. The generation {@code n} grows each time a unit is
     * compacted again (merging its previous compacted part), so a new file never reuses the name
     * of the one it replaces.
     */
    public static String compactedPath(PartKind kind, LocalDate unit, long minSeq, long seq, long generation) {
        String dir = kind == PartKind.DETAIL ? ARCHIVE_DIR + "/" + WEEK_DIR_PREFIX : ROLLUPS_DIR + "/" + MONTH_DIR_PREFIX;
        return dir + unit + "/" + COMPACTED_PREFIX + String.format("%020d", minSeq) + "-" + String.format("%020d", seq)
                + "-g" + generation + PARQUET_SUFFIX;
    }

    /** The generation of a compacted part file name; empty if it is not one. */
    public static OptionalLong compactedGeneration(String fileName) {
        Matcher m = COMPACTED_NAME.matcher(fileName);
        return m.matches() ? OptionalLong.of(Long.parseLong(m.group(3))) : OptionalLong.empty();
    }

    /** The {@code [minSeq, seq]} range of a compacted part file name, or null if it is not one. */
    public static long[] compactedRange(String fileName) {
        Matcher m = COMPACTED_NAME.matcher(fileName);
        return m.matches() ? new long[] {Long.parseLong(m.group(1)), Long.parseLong(m.group(2))} : null;
    }

    /** The sequence number of a segment file name, if it is one. */
    public static OptionalLong segmentSeq(String fileName) {
        Matcher m = SEGMENT_NAME.matcher(fileName);
        return m.matches() ? OptionalLong.of(Long.parseLong(m.group(1))) : OptionalLong.empty();
    }

    /** The sequence number of a sealed part file name, if it is one. */
    public static OptionalLong partSeq(String fileName) {
        Matcher m = PART_NAME.matcher(fileName);
        return m.matches() ? OptionalLong.of(Long.parseLong(m.group(1))) : OptionalLong.empty();
    }
}
