package dev.tally.store.ingest;

import dev.tally.store.AppendResult;
import dev.tally.store.ImportPosition;
import dev.tally.store.Rejection;
import dev.tally.store.UsageEvent;
import dev.tally.store.UsageStore;
import dev.tally.store.dlq.DeadLetter;
import dev.tally.store.dlq.DeadLetterQueue;
import dev.tally.store.journal.JournalReadResult;
import dev.tally.store.journal.JournalReader;
import dev.tally.store.journal.JournalRecord;
import dev.tally.store.journal.JournalSource;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32C;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Moves journal records into the store, exactly once. Per journal file the position is keyed by
 * the file's identity ({@code journal:<dev>:<ino>}), so a rotation, which renames the live
 * journal, keeps its position. Each batch commits its rows and the new position in one
 * transaction; damaged records and events the store refuses are dead-lettered (fsynced) before
 * that transaction commits.
 *
 * <p>The position's fingerprint is a CRC32C of the last {@value #TAIL_WINDOW} consumed bytes.
 * Before continuing a file it is checked: if the bytes before the position changed (a torn tail
 * cut by journal recovery and written over, an inode reused), the file is imported again from
 * the start, and the store's idempotency by id and the queue's by offset keep that exactly-once.
 *
 * <p>Not thread-safe: one import at a time (the worker's import loop). Holds no lock.
 */
public final class JournalImporter {
    private static final Logger log = LoggerFactory.getLogger(JournalImporter.class);
    /** Bytes before the position covered by its fingerprint. */
    static final int TAIL_WINDOW = 256;
    public static final String SOURCE_PREFIX = "journal:";
    /** Prefix of the dead-letter source of a journal line: {@code journal/<file name when read>}. */
    public static final String DEAD_LETTER_PREFIX = "journal/";

    private final JournalReader reader;
    private final DeadLetterQueue deadLetters;
    private final UsageStore store;
    private final Clock clock;
    private final int batchSize;
    private final int maxLineBytes;

    public JournalImporter(JournalReader reader, DeadLetterQueue deadLetters, UsageStore store, Clock clock, int batchSize,
            int maxLineBytes) {
        this.reader = reader;
        this.deadLetters = deadLetters;
        this.store = store;
        this.clock = clock;
        this.batchSize = batchSize;
        this.maxLineBytes = maxLineBytes;
    }

    /** What one pass did. */
    public record Pass(long records, long stored, long duplicates, long deadLettered, long lagBytes) {
    }

    /** Imports every complete record of every journal file; returns counts and the remaining lag. */
    public Pass runOnce() throws IOException {
        Map<String, ImportPosition> committed = store.importPositions();
        long records = 0;
        long stored = 0;
        long duplicates = 0;
        long dead = 0;
        for (JournalSource src : reader.sources()) {
            String key = SOURCE_PREFIX + src.identity();
            long offset = startOffset(src, committed.get(key));
            while (true) {
                JournalReadResult r = reader.read(src.path(), offset, batchSize, maxLineBytes);
                if (r.records().isEmpty()) {
                    break;
                }
                List<UsageEvent> events = new ArrayList<>(r.records().size());
                List<JournalRecord.Event> eventRecords = new ArrayList<>(r.records().size());
                List<DeadLetter> damaged = new ArrayList<>();
                Instant now = clock.instant();
                for (JournalRecord rec : r.records()) {
                    if (rec instanceof JournalRecord.Event e) {
                        events.add(e.event());
                        eventRecords.add(e);
                    } else if (rec instanceof JournalRecord.Damaged d) {
                        damaged.add(DeadLetter.of(sourceLabel(src), d.startOffset(), d.reason(), d.message(), d.raw(),
                                d.lineBytes(), now));
                    }
                }
                ImportPosition position = new ImportPosition(key, r.nextOffset(), tailFingerprint(src.path(), r.nextOffset()),
                        src.name());
                long[] refused = {0};
                AppendResult result = store.append(events, position, rejections -> {
                    List<DeadLetter> letters = new ArrayList<>(damaged);
                    for (Rejection x : rejections) {
                        JournalRecord.Event e = eventRecords.get(x.index());
                        letters.add(DeadLetter.of(sourceLabel(src), e.startOffset(), x.reason(), x.message(),
                                dev.tally.store.EventCodec.toJson(e.event()).getBytes(java.nio.charset.StandardCharsets.UTF_8),
                                e.endOffset() - e.startOffset() - 1, now));
                    }
                    if (!letters.isEmpty()) {
                        deadLetters.add(letters);
                    }
                    refused[0] = letters.size();
                });
                records += r.records().size();
                stored += result.accepted();
                duplicates += result.duplicates();
                dead += refused[0];
                offset = r.nextOffset();
            }
        }
        return new Pass(records, stored, duplicates, dead, lagBytes());
    }

    /** Bytes in journal files not yet imported (complete or not). */
    public long lagBytes() {
        Map<String, ImportPosition> committed = store.importPositions();
        long lag = 0;
        for (JournalSource src : reader.sources()) {
            ImportPosition p = committed.get(SOURCE_PREFIX + src.identity());
            lag += Math.max(0, src.sizeBytes() - (p == null ? 0 : p.offset()));
        }
        return lag;
    }

    /** Whether a rotated archive is completely imported (so reaping may delete it). */
    public boolean fullyImported(Path archive, Map<String, ImportPosition> committed) {
        for (JournalSource src : reader.sources()) {
            if (!src.live() && src.path().equals(archive)) {
                ImportPosition p = committed.get(SOURCE_PREFIX + src.identity());
                return p != null && p.offset() >= src.sizeBytes();
            }
        }
        return false;
    }

    private long startOffset(JournalSource src, ImportPosition p) throws IOException {
        if (p == null) {
            return 0;
        }
        if (p.offset() > src.sizeBytes() || !p.fingerprint().equals(tailFingerprint(src.path(), p.offset()))) {
            log.warn("journal file {} no longer matches its import position (offset {}, size {}); importing it again "
                    + "from the start, duplicates are dropped by id", src.name(), p.offset(), src.sizeBytes());
            return 0;
        }
        return p.offset();
    }

    private static String sourceLabel(JournalSource src) {
        return DEAD_LETTER_PREFIX + src.name();
    }

    /** CRC32C of the {@value #TAIL_WINDOW} bytes before {@code offset}, hex. */
    static String tailFingerprint(Path file, long offset) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            return tailFingerprint(ch, offset);
        }
    }

    /**
     * The fingerprint a journal import position records for {@code offset}: CRC32C of the
     * {@value #TAIL_WINDOW} bytes before it, read from {@code ch} with positional reads (its
     * position is not used). {@code "short"} when the file ends before {@code offset}.
     */
    public static String tailFingerprint(FileChannel ch, long offset) throws IOException {
        int len = (int) Math.min(TAIL_WINDOW, offset);
        ByteBuffer buf = ByteBuffer.allocate(len);
        long at = offset - len;
        while (buf.hasRemaining()) {
            int n = ch.read(buf, at + buf.position());
            if (n < 0) {
                return "short";
            }
        }
        CRC32C crc = new CRC32C();
        crc.update(buf.array(), 0, len);
        return "crc32c-tail:" + HexFormat.of().toHexDigits((int) crc.getValue());
    }
}
