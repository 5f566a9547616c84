package dev.tally.store.ingest;

import java.util.List;

/**
 * What one {@link SpoolImporter#runOnce()} did.
 *
 * <p>Immutable and thread-safe.
 *
 * @param files        every spool file the scan found, with its status at scan time
 * @param linesRead    complete non-blank lines consumed
 * @param stored       events stored now
 * @param duplicates   events the store already held (by tenant and id)
 * @param deadLettered lines added to the dead-letter queue (refused by the parser or the store)
 * @param errors       files that could not be read, or changed between scan and import, each as
 *                     {@code source: problem}; the other files were still imported
 */
public record ImportReport(List<SpoolFile> files, long linesRead, long stored, long duplicates, long deadLettered,
        List<String> errors) {
    public ImportReport {
        files = List.copyOf(files);
        errors = List.copyOf(errors);
    }

    /** A pass that read nothing. */
    public static ImportReport empty() {
        return new ImportReport(List.of(), 0, 0, 0, 0, List.of());
    }

    /** The files found CHANGED (newly quarantined) or already QUARANTINED. */
    public List<SpoolFile> quarantined() {
        return files.stream()
                .filter(f -> f.status() == SpoolStatus.CHANGED || f.status() == SpoolStatus.QUARANTINED)
                .toList();
    }
}
