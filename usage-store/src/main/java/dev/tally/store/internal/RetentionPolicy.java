package dev.tally.store.internal;

import dev.tally.store.RetentionReason;
import dev.tally.store.StoreConfig;
import java.io.IOException;
import java.nio.file.FileVisitOption;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

/**
 * What retention removes, as predicates with reasons. It only decides; {@link StoreMaintenance}
 * carries the decisions out and logs each deletion with the reason given here.
 *
 * <p>Thread-safe: immutable.
 */
final class RetentionPolicy {
    private final StoreConfig config;

    RetentionPolicy(StoreConfig config) {
        this.config = config;
    }

    /** A part to delete and why. */
    record Expiry(SealedPart part, RetentionReason reason, String detail) {
    }

    /** A file nothing names, old enough to delete. */
    record Orphan(Path file, String relative) {
    }

    Instant detailCutoff(Instant now) {
        return now.minus(config.detailRetention());
    }

    Instant rollupCutoff(Instant now) {
        return now.minus(config.rollupRetention());
    }

    /** The active segment's newest event is older than the detail cutoff. */
    boolean activeExpired(SegmentHandle active, Instant now) {
        return active.rows() > 0 && active.maxTime().isBefore(detailCutoff(now));
    }

    /** The active segment holds rows and is older than {@code maxSegmentAge}. */
    boolean activeAged(SegmentHandle active, Instant now) {
        return active.rows() > 0 && active.createdAt().isBefore(now.minus(config.maxSegmentAge()));
    }

    /** Published parts whose newest row is older than their tier's cutoff. */
    List<Expiry> expiredParts(Manifest manifest, Instant now) {
        Instant detail = detailCutoff(now);
        Instant rollup = rollupCutoff(now);
        List<Expiry> out = new ArrayList<>();
        for (SealedPart p : manifest.parts()) {
            if (p.kind() == PartKind.DETAIL && p.maxTime().isBefore(detail)) {
                out.add(new Expiry(p, RetentionReason.DETAIL_EXPIRED,
                        "newest event " + p.maxTime() + " is older than the detail cutoff " + detail));
            } else if (p.kind() == PartKind.ROLLUP && p.maxTime().isBefore(rollup)) {
                out.add(new Expiry(p, RetentionReason.ROLLUP_EXPIRED,
                        "newest hour " + p.maxTime() + " is older than the rollup cutoff " + rollup));
            }
        }
        return out;
    }

    /**
     * Files under the segment, archive and rollup folders that neither the manifest nor a live
     * (active or pending) segment names, that no reader pins, and that were last modified before
     * the grace period.
     * Called under the maintenance lock, so no seal is between writing a part and publishing it;
     * the grace period protects against anything else in flight.
     */
    List<Orphan> orphans(SegmentFiles files, Manifest manifest, Set<Long> liveSegments, Set<Path> draining,
            Instant now) throws IOException {
        Set<String> published = manifest.paths();
        Instant graceStart = now.minus(config.orphanGracePeriod());
        List<Orphan> out = new ArrayList<>();
        for (Path dir : List.of(files.segmentsDir(), files.archiveDir(), files.rollupsDir())) {
            if (!Files.isDirectory(dir)) {
                continue;
            }
            // A walk, not Files.walk: a live segment's WAL comes and goes with each checkpoint, and
            // a file that vanishes between listing and reading its attributes is simply not an orphan.
            Files.walkFileTree(dir, EnumSet.noneOf(FileVisitOption.class), 2,
                    new SimpleFileVisitor<>() {
                        @Override
                        public FileVisitResult visitFile(Path f,
                                BasicFileAttributes attrs) {
                            String rel = files.root().relativize(f).toString().replace('\\', '/');
                            if (attrs.isRegularFile() && !published.contains(rel)
                                    && !isLiveSegmentFile(f, liveSegments) && !isDraining(f, draining)
                                    && !isSidecarOf(rel, published)
                                    && attrs.lastModifiedTime().toInstant().isBefore(graceStart)) {
                                out.add(new Orphan(f, rel));
                            }
                            return FileVisitResult.CONTINUE;
                        }

                        @Override
                        public FileVisitResult visitFileFailed(Path f, IOException e) throws IOException {
                            if (e instanceof NoSuchFileException) {
                                return FileVisitResult.CONTINUE;
                            }
                            throw e;
                        }
                    });
        }
        return out;
    }

    /** A published part's key sidecar ({@link KeysFile}) or totals ({@link TotalsFile}); they go with their part. */
    private static boolean isSidecarOf(String rel, Set<String> published) {
        String part = SegmentFiles.sidecarPart(rel);
        return part != null && published.contains(part);
    }

    /** A retired file (or its WAL) that a reader still pins; it is deleted when released. */
    private static boolean isDraining(Path f, Set<Path> draining) {
        String name = f.getFileName().toString();
        Path base = name.endsWith(".wal") ? f.resolveSibling(name.substring(0, name.length() - 4)) : f;
        return draining.contains(f) || draining.contains(base);
    }

    private static boolean isLiveSegmentFile(Path f, Set<Long> live) {
        String name = f.getFileName().toString();
        String base = name.endsWith(".wal") ? name.substring(0, name.length() - 4) : name;
        var seq = SegmentFiles.segmentSeq(base);
        return seq.isPresent() && live.contains(seq.getAsLong());
    }
}
