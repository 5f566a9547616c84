package dev.tally.store.verify;

import dev.tally.store.read.SnapshotInfo;
import java.time.Duration;
import java.time.Instant;
import java.util.Collections;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The result of one verify run: counts per class, totals per tenant and type, per-file details,
 * and the individual findings (every line that is not simply unchanged, up to a limit).
 *
 * <p>Immutable and thread-safe.
 *
 * @param startedAt          when the run started (the verifier's clock)
 * @param took               how long it took
 * @param snapshot           how the store snapshot was taken
 * @param events             source lines per class
 * @param files              every source file, in import order (journal archives, live journal,
 *                           spool files)
 * @param totals             per tenant and type, sorted
 * @param storeOnlyEvents    stored events that no source line on disk names
 * @param storeDuplicateKeys tenant and id pairs stored more than once (an exactly-once violation)
 * @param positionsWithoutFile committed import positions whose file is no longer on disk (e.g.
 *                           reaped journal archives); their events are in {@code storeOnlyEvents}
 * @param findings           lines that are not unchanged, in import order, at most the configured
 *                           limit per class
 * @param findingsOmitted    findings left out because of that limit
 */
public record VerifyReport(Instant startedAt, Duration took, SnapshotInfo snapshot, Map<VerifyClass, Long> events,
        List<FileReport> files, List<TypeTotals> totals, long storeOnlyEvents, long storeDuplicateKeys,
        long positionsWithoutFile, List<EventFinding> findings, long findingsOmitted) {

    public VerifyReport {
        Objects.requireNonNull(startedAt, "startedAt");
        Objects.requireNonNull(snapshot, "snapshot");
        EnumMap<VerifyClass, Long> e = new EnumMap<>(VerifyClass.class);
        for (VerifyClass c : VerifyClass.values()) {
            e.put(c, events.getOrDefault(c, 0L));
        }
        events = Collections.unmodifiableMap(e);
        files = List.copyOf(files);
        totals = List.copyOf(totals);
        findings = List.copyOf(findings);
    }

    /** Source lines of one class. */
    public long count(VerifyClass c) {
        return events.getOrDefault(c, 0L);
    }

    /** Files whose status is {@code c}. */
    public long files(VerifyClass c) {
        return files.stream().filter(f -> f.status() == c).count();
    }

    /**
     * Whether anything drifted, which {@code --fail-on-change} fails on: a line or file that is
     * changed, missing or inconclusive, or a key stored more than once. Raced, pending,
     * dead-lettered and expired lines are not drift.
     */
    public boolean drift() {
        for (VerifyClass c : VerifyClass.values()) {
            if (c.drift() && count(c) > 0) {
                return true;
            }
        }
        for (FileReport f : files) {
            if (f.status().drift()) {
                return true;
            }
        }
        return storeDuplicateKeys > 0 || !snapshot.complete() || !snapshot.positionsKnown();
    }
}
