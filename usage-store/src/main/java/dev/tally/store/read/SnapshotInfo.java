package dev.tally.store.read;

import java.util.List;

/**
 * How a store snapshot ({@link Snapshot}) was taken: what verify reports it compared against.
 *
 * <p>Immutable and thread-safe.
 *
 * @param manifestLastSeq the manifest's last sealed sequence in the snapshot
 * @param segments        the DuckDB segments (active and pending) copied into the snapshot
 * @param detailParts     sealed detail parts in the snapshot
 * @param rollupParts     sealed rollup parts in the snapshot
 * @param pinning         how sealed parts were pinned for the run: {@code hard-link} (retention
 *                        cannot take them away mid-run) or {@code symbolic-link} (the snapshot
 *                        directory is on another file system; a part deleted mid-run fails the
 *                        run loudly)
 * @param attempts        snapshot attempts made (a seal or retention publishing a new manifest
 *                        while copying forces another)
 * @param complete        whether every segment was copied consistently; if not, events that would
 *                        be in the missing segment are inconclusive to verify
 * @param positionsKnown  whether the import positions (held by the active segment) are in the
 *                        snapshot; if not, the consumed boundaries are unknown
 * @param problems        what kept the snapshot from being complete, in words
 * @param quarantined     parts the store took out of service as damaged (path and reason): their
 *                        events are not in the store, so their source lines are
 *                        missing to verify
 */
public record SnapshotInfo(long manifestLastSeq, List<Long> segments, int detailParts, int rollupParts,
        String pinning, int attempts, boolean complete, boolean positionsKnown, List<String> problems,
        List<String> quarantined) {
    public SnapshotInfo {
        segments = List.copyOf(segments);
        problems = List.copyOf(problems);
        quarantined = List.copyOf(quarantined);
    }
}
