package dev.tally.store.ingest;

import java.util.ArrayList;
import java.util.List;

/**
 * What one import pass did: the one result shape of a journal pass ({@link JournalImporter}), a
 * spool pass ({@link SpoolImporter}) and the two together ({@link Importer#runOnce()}).
 *
 * <p>Immutable and thread-safe.
 *
 * @param files        every spool file the scan found, with its status at scan time (none for a
 *                     journal pass)
 * @param records      complete records (journal) and non-blank lines (spool) consumed
 * @param stored       events stored now
 * @param duplicates   events the store already held (by tenant and id)
 * @param deadLettered records and lines added to the dead-letter queue (refused by the parser or
 *                     the store)
 * @param errors       spool files that could not be read, or changed between scan and import, each
 *                     as {@code source: problem}; the other files were still imported
 */
public record ImportReport(List<SpoolFile> files, long records, long stored, long duplicates, long deadLettered,
        List<String> errors) {
    public ImportReport {
        files = List.copyOf(files);
        errors = List.copyOf(errors);
    }

    /** A pass that read nothing. */
    public static ImportReport empty() {
        return new ImportReport(List.of(), 0, 0, 0, 0, List.of());
    }

    /** A pass over files that are not listed (the journal), with no per-file errors. */
    static ImportReport counts(long records, long stored, long duplicates, long deadLettered) {
        return new ImportReport(List.of(), records, stored, duplicates, deadLettered, List.of());
    }

    /** This pass and {@code then} as one: counts added, files and errors in order. */
    public ImportReport plus(ImportReport then) {
        List<SpoolFile> f = new ArrayList<>(files);
        f.addAll(then.files);
        List<String> e = new ArrayList<>(errors);
        e.addAll(then.errors);
        return new ImportReport(f, records + then.records, stored + then.stored, duplicates + then.duplicates,
                deadLettered + then.deadLettered, e);
    }

    /** Whether the pass found anything to import. */
    public boolean didWork() {
        return records > 0;
    }

    /** The files found CHANGED (newly quarantined) or already QUARANTINED. */
    public List<SpoolFile> quarantined() {
        return files.stream()
                .filter(f -> f.status() == SpoolStatus.CHANGED || f.status() == SpoolStatus.QUARANTINED)
                .toList();
    }
}
