package dev.tally.store.ingest;

import dev.tally.store.AppendResult;
import dev.tally.store.ImportPosition;
import dev.tally.store.Rejection;
import dev.tally.store.UsageEvent;
import dev.tally.store.ValidEvent;
import dev.tally.store.dlq.DeadLetter;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * The next lines of one spool file: the events that parsed, the lines that did not, and the
 * position just after the last complete line consumed, with the fingerprint of exactly that
 * prefix. Lines are in file order; {@code parsed} and {@code rejected} together are every
 * non-blank complete line in {@code [previous boundary, position.offset())}.
 *
 * <p>Nothing may move an import position to {@link #position()} before every rejected line is
 * durably dead-lettered: see {@link SpoolImporter} for the crash-safe order.
 *
 * <p>Immutable (its lists are copies) and thread-safe.
 *
 * @param source    the file's source name
 * @param parsed    lines that parsed into events
 * @param rejected  lines the parser refused
 * @param position  the consumed boundary after this batch
 * @param exhausted whether the batch stopped at the end of the complete lines (a partial line,
 *                  if any, is left for later), rather than at a size limit
 */
public record ImportBatch(String source, List<ParsedLine> parsed, List<RejectedLine> rejected,
        ImportPosition position, boolean exhausted) {

    public ImportBatch {
        parsed = List.copyOf(parsed);
        rejected = List.copyOf(rejected);
    }

    /** The parsed events, in file order. */
    public List<UsageEvent> events() {
        List<UsageEvent> out = new ArrayList<>(parsed.size());
        for (ParsedLine p : parsed) {
            out.add(p.event());
        }
        return out;
    }

    /** The parsed events as validated by the parse, in file order: what the importer appends. */
    public List<ValidEvent> validEvents() {
        List<ValidEvent> out = new ArrayList<>(parsed.size());
        for (ParsedLine p : parsed) {
            out.add(p.valid());
        }
        return out;
    }

    /** Whether the batch holds no line at all (it may still have consumed blank lines). */
    public boolean isEmpty() {
        return parsed.isEmpty() && rejected.isEmpty();
    }

    /**
     * The lines the store refused when {@link #events()} was appended, with the store's reasons;
     * {@code rejections} must come from appending exactly {@link #events()} (or {@link #validEvents()}, the same events in the same order).
     */
    public List<RejectedLine> refusedByStore(List<Rejection> rejections) {
        List<RejectedLine> out = new ArrayList<>(rejections.size());
        for (Rejection r : rejections) {
            if (r.index() < 0 || r.index() >= parsed.size()) {
                throw new IllegalArgumentException("rejection index " + r.index() + " is outside the batch of "
                        + parsed.size() + " events");
            }
            ParsedLine p = parsed.get(r.index());
            out.add(new RejectedLine(p.offset(), p.length(), r.reason(), r.message(), p.original()));
        }
        return out;
    }

    /**
     * Dead-letter entries for the parser's rejections and the store's ({@code storeRejections}
     * are the rejections of appending exactly {@link #events()}), first seen {@code now}.
     */
    public List<DeadLetter> deadLetters(List<Rejection> storeRejections, Instant now) {
        List<DeadLetter> out = new ArrayList<>();
        for (RejectedLine r : rejected) {
            out.add(r.toDeadLetter(source, now));
        }
        for (RejectedLine r : refusedByStore(storeRejections)) {
            out.add(r.toDeadLetter(source, now));
        }
        return out;
    }
}
