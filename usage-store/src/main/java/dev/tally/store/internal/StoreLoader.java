package dev.tally.store.internal;

import dev.tally.store.io.FileSync;
import dev.tally.store.engine.Engine;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.SQLException;
import java.time.Instant;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Brings a data directory to a consistent state on open, in numbered passes. Each pass is safe
 * to repeat, so a crash during recovery is recovered by the next open. The invariant it restores:
 * every row is in exactly one place (the active segment, a pending segment, or a published part),
 * never in two visible places and never in none.
 *
 * <p>Not thread-safe: runs once, before the store is shared.
 */
final class StoreLoader {
    private static final Logger log = LoggerFactory.getLogger(StoreLoader.class);

    /**
     * What recovery found and attached. {@code damaged} is non-null when the active segment or a
     * pending one did not open: then {@code active} is null, {@code pending} holds only the
     * segments below the damaged one, and the store opens degraded.
     */
    record Loaded(Manifest manifest, SegmentHandle active, List<SegmentHandle> pending, long nextSeq,
            DamagedSegment damaged) {
    }

    /**
     * A segment file (or its write-ahead log) that DuckDB refused to open.
     *
     * @param seq      its sequence
     * @param reason   DuckDB's message, on one line, without server paths
     * @param pending  true when it was rolled but not sealed (a lower sequence than the active one)
     * @param heldBack the higher segments left unattached because of it (none for an active one):
     *                 sealing them would publish past the damaged one
     */
    record DamagedSegment(long seq, String reason, boolean pending, List<Long> heldBack) {
        DamagedSegment {
            heldBack = List.copyOf(heldBack);
        }

        /** "the active segment" or "the pending segment", for messages. */
        String role() {
            return pending ? "the pending segment" : "the active segment";
        }
    }

    private final SegmentFiles files;
    private final Engine engine;
    private final ActiveWriter writer;
    private final boolean readOnly;

    StoreLoader(SegmentFiles files, Engine engine, ActiveWriter writer, boolean readOnly) {
        this.files = files;
        this.engine = engine;
        this.writer = writer;
        this.readOnly = readOnly;
    }

    Loaded load(Instant now) throws IOException, SQLException {
        if (!readOnly) {
            // Pass 1: delete *.tmp files. They are writes that never reached their rename, so
            // nothing refers to them: a manifest replacement, a part before verification, a
            // segment before it became durable.
            for (Path f : list(files.root(), 1, SegmentFiles.TMP_SUFFIX)) {
                delete(f, "incomplete write (temporary file)");
            }
            for (Path dir : List.of(files.segmentsDir(), files.archiveDir(), files.rollupsDir())) {
                for (Path f : list(dir, 2, SegmentFiles.TMP_SUFFIX)) {
                    delete(f, "incomplete write (temporary file)");
                }
                for (Path f : list(dir, 2, SegmentFiles.TMP_SUFFIX + ".wal")) {
                    delete(f, "incomplete write (temporary file)");
                }
                // Pass 2: finish deletions that a crash interrupted after the rename to .deleted.
                for (Path f : list(dir, 2, SegmentFiles.DELETED_SUFFIX)) {
                    delete(f, "deletion interrupted by a crash");
                }
            }
        }

        // Pass 3: read the manifest. A damaged one stops the open with the repair command: a
        // guess here could drop or double published rows.
        Manifest manifest = Manifest.read(files.manifest());

        // Pass 3b: every published part must have the size its manifest entry records. A missing,
        // truncated or replaced file is quarantined (moved aside, listed in the manifest as
        // quarantined, logged as an error) so the rest of the archive stays queryable; content
        // damage of the same size is caught by CRC in TieredStore.verifyParts() or on read.
        Manifest checked = manifest;
        for (SealedPart p : manifest.parts()) {
            String problem = Quarantine.sizeProblem(files, p);
            if (problem != null) {
                if (!readOnly) {
                    Quarantine.move(files, p.path(), now, problem);
                } else {
                    log.error("part {} is damaged ({}); reading without it", p.path(), problem);
                }
                checked = checked.withQuarantined(p, problem, now);
            }
        }
        if (checked != manifest) {
            if (!readOnly) {
                checked.write(files.manifest());
            }
            manifest = checked;
        }

        // Pass 4: segment files whose sequence is already sealed (at or below the manifest's
        // lastSeq, since segments are sealed in order) were published before the crash: delete
        // them, or their rows would be visible twice.
        TreeSet<Long> seqs = new TreeSet<>();
        for (Path f : list(files.segmentsDir(), 1, SegmentFiles.SEGMENT_SUFFIX)) {
            OptionalLong seq = SegmentFiles.segmentSeq(f.getFileName().toString());
            if (seq.isEmpty()) {
                continue;
            }
            if (seq.getAsLong() <= manifest.lastSeq()) {
                if (!readOnly) {
                    delete(files.segmentWal(seq.getAsLong()), "segment already published");
                    delete(f, "segment already published in the manifest");
                }
            } else {
                seqs.add(seq.getAsLong());
            }
        }

        // Pass 5: Parquet parts above lastSeq that the manifest does not name come from a seal
        // that crashed before publishing; the segment is still there and will be sealed again.
        if (!readOnly) {
            for (Path dir : List.of(files.archiveDir(), files.rollupsDir())) {
                for (Path f : list(dir, 2, SegmentFiles.PARQUET_SUFFIX)) {
                    OptionalLong seq = SegmentFiles.partSeq(f.getFileName().toString());
                    String rel = files.root().relativize(f).toString().replace('\\', '/');
                    if (seq.isPresent() && seq.getAsLong() > manifest.lastSeq() && !manifest.paths().contains(rel)) {
                        delete(f, "part of an unpublished seal; the segment will be sealed again");
                    }
                }
            }
        }

        // Pass 5b: a sidecar (a detail part's KeysFile, a rollup part's TotalsFile) whose part
        // the manifest does not name belongs to an unpublished seal or compaction, or to a part
        // deleted or quarantined before its sidecar: nothing reads it, and the next seal of that
        // segment writes a new one.
        if (!readOnly) {
            Set<String> published = manifest.paths();
            for (Path dir : List.of(files.archiveDir(), files.rollupsDir())) {
                for (String suffix : List.of(KeysFile.SUFFIX, TotalsFile.SUFFIX)) {
                    for (Path f : list(dir, 2, suffix)) {
                        String rel = files.root().relativize(f).toString().replace('\\', '/');
                        if (!published.contains(SegmentFiles.sidecarPart(rel))) {
                            delete(f, "sidecar of a part the manifest does not name");
                        }
                    }
                }
            }
        }

        // Pass 5c: compaction. A compacted part the manifest does not name was written by a
        // compaction that crashed before its manifest swap: its sources are still published, so
        // it is deleted. A sealed part the manifest does not name but a compacted part of the same
        // kind holds (its segment in [minSeq, seq], its day in the compacted part's days) is a
        // source of a compaction that crashed after its swap: its rows are published in the
        // compacted part, so it is deleted now rather than after the orphan grace period. (Their
        // key sidecars went in pass 5b: the manifest names neither part.)
        if (!readOnly) {
            Set<String> named = manifest.paths();
            for (PartKind kind : PartKind.values()) {
                Path dir = kind == PartKind.DETAIL ? files.archiveDir() : files.rollupsDir();
                List<SealedPart> compacted = manifest.parts(kind).stream().filter(SealedPart::compacted).toList();
                for (Path f : list(dir, 2, SegmentFiles.PARQUET_SUFFIX)) {
                    String name = f.getFileName().toString();
                    String rel = files.root().relativize(f).toString().replace('\\', '/');
                    if (named.contains(rel)) {
                        continue;
                    }
                    if (SegmentFiles.compactedGeneration(name).isPresent()) {
                        delete(f, "compacted part of an unpublished compaction; its sources are still published");
                        continue;
                    }
                    OptionalLong seq = SegmentFiles.partSeq(name);
                    String dayDir = f.getParent().getFileName().toString();
                    if (seq.isEmpty() || !dayDir.startsWith("day=")) {
                        continue;
                    }
                    LocalDate day = LocalDate.parse(dayDir.substring(4));
                    for (SealedPart c : compacted) {
                        if (c.coversSeq(seq.getAsLong()) && !day.isBefore(c.firstDay()) && !day.isAfter(c.lastDay())) {
                            delete(f, "source of " + c.path() + ", published by a compaction");
                            break;
                        }
                    }
                }
            }
        }

        // Pass 6: attach the segments. The highest sequence is the active segment; every lower
        // one is pending (rolled but not sealed) and is sealed on the seal executor after the open.
        // A damaged segment does not stop the store: its sealed parts stay readable, appends and
        // seals are refused until 'repair active' sets the file aside, and the import rebuilds its
        // rows from the journal, which keeps them until sealed. A damaged pending segment also
        // holds back every segment above it (left on disk, not attached): sealing one of them
        // would move the manifest's lastSeq past the damaged file, and pass 4 would then delete it.
        List<SegmentHandle> pending = new ArrayList<>();
        SegmentHandle active = null;
        DamagedSegment damaged = null;
        for (long seq : seqs) {
            boolean last = seq == seqs.last();
            SegmentHandle h = null;
            try {
                h = writer.attach(seq, readOnly);
                writer.probe(h);
            } catch (RuntimeException | SQLException e) {
                writer.detachQuietly(seq);
                List<Long> heldBack = List.copyOf(seqs.tailSet(seq, false));
                damaged = new DamagedSegment(seq, oneLine(e.getMessage()), !last, heldBack);
                log.error("{} {} does not open ({}); the store opens degraded: sealed parts are readable, appends "
                        + "and seals are refused{}. Stop the worker and run: {}", damaged.role(), seq,
                        damaged.reason(), heldBack.isEmpty() ? "" : ", and the segments " + heldBack
                        + " above it are not read until then", dev.tally.store.DamagedActiveSegmentException.REPAIR);
                break;
            }
            if (last) {
                active = h;
            } else {
                pending.add(h);
                log.info("segment {} was rolled but not sealed before the last stop ({} rows); it is sealed after "
                        + "the open", seq, h.rows());
            }
        }
        long maxPartSeq = manifest.parts().stream().mapToLong(SealedPart::seq).max().orElse(0);
        long nextSeq = Math.max(Math.max(manifest.lastSeq(), maxPartSeq), seqs.isEmpty() ? 0 : seqs.last()) + 1;
        if (active == null && damaged == null && !readOnly) {
            // Pass 7: a store with no segment gets a fresh active one.
            active = writer.createSegment(nextSeq, null, now);
            nextSeq++;
        }
        return new Loaded(manifest, active, pending, nextSeq, damaged);
    }

    /** The engine's message on one line and without server paths: it reaches clients in warnings. */
    private static String oneLine(String s) {
        return s == null ? "unknown error" : dev.tally.store.EngineErrors.scrubPaths(s.replaceAll("\\s*\\R\\s*", " "));
    }

    private static List<Path> list(Path dir, int depth, String suffix) throws IOException {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> s = Files.walk(dir, depth)) {
            return s.filter(p -> Files.isRegularFile(p) && p.getFileName().toString().endsWith(suffix)).toList();
        }
    }

    private void delete(Path f, String why) throws IOException {
        if (FileSync.deleteDurably(f)) {
            log.info("recovery deleted {}: {}", files.root().relativize(f), why);
        }
    }
}
