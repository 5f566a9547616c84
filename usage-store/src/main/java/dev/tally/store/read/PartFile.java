package dev.tally.store.read;

import java.nio.file.Path;

/** A published part pinned by a view: its manifest entry and its file, readable while the view is pinned. */
public interface PartFile {
    PartInfo part();

    /** The absolute path of the Parquet file. */
    Path file();

    /**
     * The per-subject totals of a rollup part over its whole time span (a {@link TotalsFormat}
     * file), or null when it has none; readers then use its hourly rows.
     */
    default Path totals() {
        return null;
    }
}
