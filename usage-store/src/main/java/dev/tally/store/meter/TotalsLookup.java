package dev.tally.store.meter;

import dev.tally.store.read.PartFile;
import dev.tally.store.read.TotalsFormat;
import java.io.IOException;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * A rollup part's share of a one-window answer, read from the part's totals ({@link TotalsFormat})
 * without the query engine: a binary search to the subject's entries, a few kilobytes read and
 * checked, no statement to parse, plan or schedule. The file is read afresh for every answer
 * (through the operating system's page cache, as the engine reads a part); nothing of it is kept.
 *
 * <p>Thread-safe: stateless.
 */
final class TotalsLookup {
    private TotalsLookup() {
    }

    /** Whether {@code p}'s totals can answer {@code r}: it has them, {@code r} has one window, and the range holds the part whole. */
    static boolean applies(ResolvedQuery r, PartFile p) {
        return p.totals() != null && r.windows.single() && p.part().within(r.query.from(), r.query.to());
    }

    /**
     * The partials of {@code p} for {@code r} (see {@link #applies}): what the engine would give
     * from the part's hourly rows. Throws {@link TotalsFormat.DamagedException} for a file that
     * fails a check; the caller then reads the hourly rows.
     */
    static Map<Partial.Key, Partial> read(ResolvedQuery r, PartFile p) throws IOException {
        String property = r.value == null ? null : r.value.keys().get(0);
        boolean extremes = r.extremes();
        boolean perSubject = r.query.perSubject();
        long window = r.windows.singleStart();
        Map<Partial.Key, Partial> out = new HashMap<>();
        java.util.function.Consumer<TotalsFormat.Entry> add = e -> out.merge(
                new Partial.Key(window, perSubject ? e.subject() : null, List.of()),
                e.property() == null ? new Partial(e.count(), 0, null, null, null)
                        : new Partial(0, e.count(), e.sum(), extremes ? e.min() : null, extremes ? e.max() : null),
                Partial::plus);
        try (TotalsFormat.Reader totals = TotalsFormat.Reader.open(p.totals())) {
            String tenant = r.query.tenant();
            String type = r.meter.eventType();
            if (r.query.subjects().isEmpty()) {
                totals.scan(tenant, type, null, property, add);
            } else {
                for (String subject : new TreeSet<>(r.query.subjects())) {
                    totals.scan(tenant, type, subject, property, add);
                }
            }
        }
        return out;
    }
}
