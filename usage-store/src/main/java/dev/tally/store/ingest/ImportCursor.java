package dev.tally.store.ingest;

import dev.tally.store.EventRejectedException;
import dev.tally.store.ImportPosition;
import dev.tally.store.ValidEvent;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads one spool file batch by batch from its committed position, after
 * {@link SpoolScanner#open} verified the committed prefix. The prefix fingerprint is extended as
 * lines are consumed, so the file is read once per run however many batches it takes.
 *
 * <p>Each batch's {@link ImportBatch#position()} assumes the previous batch's position was
 * committed. If committing a batch fails, close the cursor and open a new one from the
 * committed position.
 *
 * <p>Not thread-safe: a cursor belongs to one importer. It holds no lock.
 */
public final class ImportCursor implements AutoCloseable {
    /** Default cap on the line bytes in one batch: 16 MiB. */
    public static final long DEFAULT_MAX_BATCH_BYTES = 16L << 20;

    private final SpoolFile file;
    private final LineReader reader;
    private final String identity;

    ImportCursor(SpoolFile file, LineReader reader, String identity) {
        this.file = file;
        this.reader = reader;
        this.identity = identity;
    }

    /** The file as it was when opened. */
    public SpoolFile file() {
        return file;
    }

    /** The position after everything consumed so far. */
    public ImportPosition position() {
        return new ImportPosition(file.source(), reader.boundary(), reader.fingerprint().hex(), identity);
    }

    /** The next batch of at most {@code maxLines} lines and {@link #DEFAULT_MAX_BATCH_BYTES}. */
    public ImportBatch next(int maxLines) throws IOException {
        return next(maxLines, DEFAULT_MAX_BATCH_BYTES);
    }

    /**
     * The next batch: complete lines until {@code maxLines} lines (events and rejected lines
     * together) or {@code maxBytes} line bytes are reached, or the complete lines end.
     */
    public ImportBatch next(int maxLines, long maxBytes) throws IOException {
        if (maxLines < 1 || maxBytes < 1) {
            throw new IllegalArgumentException("maxLines = " + maxLines + " and maxBytes = " + maxBytes
                    + " must be positive");
        }
        List<ParsedLine> parsed = new ArrayList<>();
        List<RejectedLine> rejected = new ArrayList<>();
        long bytes = 0;
        boolean exhausted = false;
        while (parsed.size() + rejected.size() < maxLines && bytes < maxBytes) {
            LineReader.Line line = reader.next();
            if (line == null) {
                exhausted = true;
                break;
            }
            bytes += line.content().length;
            try {
                // Parsed and validated at once; the store then checks only the time bounds.
                ValidEvent v = line.parseValid(reader.maxLineBytes());
                parsed.add(new ParsedLine(line.start(), line.contentLength(), v, line.content()));
            } catch (EventRejectedException ex) {
                rejected.add(new RejectedLine(line.start(), line.contentLength(), ex.reason(), ex.getMessage(),
                        line.content()));
            }
        }
        return new ImportBatch(file.source(), parsed, rejected, position(), exhausted);
    }

    /** Closes the file. */
    @Override
    public void close() throws IOException {
        reader.close();
    }
}
