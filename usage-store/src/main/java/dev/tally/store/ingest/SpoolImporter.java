package dev.tally.store.ingest;

import dev.tally.store.AppendResult;
import dev.tally.store.ImportPosition;
import dev.tally.store.ReadOnlyStoreException;
import dev.tally.store.StoreException;
import dev.tally.store.UsageStore;
import dev.tally.store.dlq.DeadLetter;
import dev.tally.store.dlq.DeadLetterQueue;
import java.io.IOException;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Imports every importable spool file into a store, batch by batch, in an order that survives a
 * crash at any point without losing or doubling a line:
 *
 * <ol>
 *   <li>read the next batch of complete lines ({@link ImportCursor#next});</li>
 *   <li>append its events together with the batch's position
 *       ({@link UsageStore#appendValid(List, ImportPosition, dev.tally.store.RejectionSink)}, each line
 *       parsed and validated once by the cursor); before that
 *       append commits, its sink adds every refused line (parser and store refusals) to the
 *       dead-letter queue, which forces it to disk before returning;</li>
 *   <li>the rows and the position commit in one DuckDB transaction.</li>
 * </ol>
 *
 * <p>The position therefore never moves past a line that is neither stored nor durably
 * dead-lettered, and never without the rows before it. A crash after the dead letters were
 * written but before the commit re-reads the batch from the old position: its dead letters are
 * skipped by the queue's idempotent {@link DeadLetterQueue#add}.
 *
 * <p>A file that cannot be read, or that changed between scan and import, is reported and
 * skipped; the other files are still imported. A {@link StoreException} from the store stops the
 * run (nothing of the failed step took effect) and is rethrown.
 *
 * <p>Not thread-safe: run one import at a time per data directory (the scanner and queue are
 * thread-safe, but two importers would read the same files). It holds no lock of its own.
 */
public final class SpoolImporter {
    private static final Logger LOG = LoggerFactory.getLogger(SpoolImporter.class);

    /** Lines per batch by default. */
    public static final int DEFAULT_BATCH_LINES = 10_000;

    private final SpoolScanner scanner;
    private final DeadLetterQueue deadLetters;
    private final UsageStore store;
    private final Clock clock;
    private final int batchLines;

    public SpoolImporter(SpoolScanner scanner, DeadLetterQueue deadLetters, UsageStore store, Clock clock,
            int batchLines) {
        this.scanner = Objects.requireNonNull(scanner, "scanner");
        this.deadLetters = Objects.requireNonNull(deadLetters, "deadLetters");
        this.store = Objects.requireNonNull(store, "store");
        this.clock = Objects.requireNonNull(clock, "clock");
        if (batchLines < 1) {
            throw new IllegalArgumentException("batchLines = " + batchLines + " must be positive");
        }
        this.batchLines = batchLines;
    }

    /**
     * Scans once and imports every NEW or APPENDED file up to its last complete line.
     *
     * @throws ReadOnlyStoreException when the scanner or the dead-letter queue is read-only
     * @throws StoreException         when the store or the dead-letter queue fails
     */
    public ImportReport runOnce() {
        if (scanner.readOnly() || deadLetters.readOnly()) {
            throw new ReadOnlyStoreException("import spool files");
        }
        Map<String, ImportPosition> committed = store.importPositions();
        List<SpoolFile> files = scanner.scan(committed);
        long lines = 0;
        long stored = 0;
        long duplicates = 0;
        long dead = 0;
        List<String> errors = new ArrayList<>();
        for (SpoolFile f : files) {
            if (!f.status().importable() || !f.hasCompleteLines()) {
                continue;
            }
            try (ImportCursor cursor = scanner.open(f, committed.get(f.source()))) {
                long offset = cursor.position().offset();
                while (true) {
                    ImportBatch batch = cursor.next(batchLines);
                    if (batch.isEmpty() && batch.position().offset() == offset) {
                        break;
                    }
                    int[] refused = {0};
                    // Each line was parsed and validated once by the cursor: the store re-checks the clock only.
                    AppendResult r = store.appendValid(batch.validEvents(), batch.position(), rejections -> {
                        List<DeadLetter> letters = batch.deadLetters(rejections, clock.instant());
                        if (!letters.isEmpty()) {
                            deadLetters.add(letters);
                        }
                        refused[0] = letters.size();
                    });
                    offset = batch.position().offset();
                    lines += batch.parsed().size() + batch.rejected().size();
                    dead += refused[0];
                    stored += r.accepted();
                    duplicates += r.duplicates();
                    if (batch.exhausted()) {
                        break;
                    }
                }
            } catch (SpoolFileChangedException e) {
                errors.add(e.getMessage());
            } catch (IOException e) {
                LOG.warn("spool file {} could not be read: {}", f.source(), e.toString());
                errors.add(f.source() + ": " + e);
            }
        }
        return new ImportReport(files, lines, stored, duplicates, dead, errors);
    }
}
