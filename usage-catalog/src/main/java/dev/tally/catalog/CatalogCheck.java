package dev.tally.catalog;

import java.util.List;

/**
 * The catalog compared with the store's manifest, for one data directory: what the catalog lacks,
 * what it holds that the manifest no longer names, what it holds twice, and what it holds with a
 * different size than the manifest says.
 *
 * <p>Thread-safe: immutable.
 *
 * @param table      the table
 * @param expected   parts of this table's kind the manifest names
 * @param registered data files of this data directory in the table's current snapshot
 * @param missing    locations the manifest names and the catalog lacks
 * @param extra      locations the catalog holds and the manifest does not name
 * @param duplicated locations the catalog holds more than once
 * @param mismatched locations whose size or row count in the catalog differs from the manifest's
 */
public record CatalogCheck(
        TallyTable table, int expected, int registered, List<String> missing, List<String> extra,
        List<String> duplicated, List<String> mismatched) {
    public CatalogCheck {
        missing = List.copyOf(missing);
        extra = List.copyOf(extra);
        duplicated = List.copyOf(duplicated);
        mismatched = List.copyOf(mismatched);
    }

    /** Whether the table's file list equals the manifest's parts. */
    public boolean consistent() {
        return missing.isEmpty() && extra.isEmpty() && duplicated.isEmpty() && mismatched.isEmpty();
    }
}
