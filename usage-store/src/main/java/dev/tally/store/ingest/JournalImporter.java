package dev.tally.store.ingest;

import dev.tally.store.AppendResult;
import dev.tally.store.EventRejectedException;
import dev.tally.store.EventRules;
import dev.tally.store.RejectReason;
import dev.tally.store.ValidEvent;
import dev.tally.store.ImportPosition;
import dev.tally.store.Rejection;
import dev.tally.store.RejectionSink;
import dev.tally.store.UsageEvent;
import dev.tally.store.UsageStore;
import dev.tally.store.correct.ClosedPeriodException;
import dev.tally.store.correct.Correction;
import dev.tally.store.correct.CorrectionCodec;
import dev.tally.store.correct.CorrectionRefusedException;
import dev.tally.store.correct.CorrectionRejection;
import dev.tally.store.correct.CorrectionResult;
import dev.tally.store.dlq.DeadLetter;
import dev.tally.store.dlq.DeadLetterQueue;
import dev.tally.store.journal.JournalReadResult;
import dev.tally.store.journal.JournalReader;
import dev.tally.store.journal.JournalRecord;
import dev.tally.store.journal.JournalSource;
import java.io.IOException;
import dev.tally.store.EventCodec;
import java.nio.charset.StandardCharsets;
import java.util.function.BooleanSupplier;
import java.nio.file.NoSuchFileException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Moves journal records into the store, exactly once. Per journal file the position is keyed by
 * the file's identity and its first record ({@link #positionKey}), so a rotation, which renames
 * the live journal, keeps its position, and a reused inode does not. Each batch commits its rows and the new position in one
 * transaction; damaged records and events the store refuses are dead-lettered (fsynced) before
 * that transaction commits.
 *
 * <p>The position's fingerprint is a CRC32C of the last {@value PositionCheck#JOURNAL_TAIL_WINDOW}
 * consumed bytes. Before continuing a file it is checked ({@link PositionCheck#journal}, the rules
 * verify checks by too): if the bytes before the position changed (a torn tail cut by journal
 * recovery and written over, an inode reused), the file is imported again from the start, and the
 * store's idempotency by id and the queue's by offset keep that exactly-once.
 *
 * <p>Correction records are applied in journal order: the events before a correction are stored
 * (with the position at the correction) before it is applied, so it sees them; the position moves
 * past it only once it is applied or dead-lettered ({@link #importCorrection}).
 *
 * <p>Not thread-safe: one import at a time (the worker's import loop). Holds no lock; the next
 * batch of a file is read on a helper thread while the current one is appended, handed over
 * through a {@link Future}.
 */
public final class JournalImporter {
    private static final Logger log = LoggerFactory.getLogger(JournalImporter.class);
    public static final String SOURCE_PREFIX = "journal:";

    /**
     * The import-position key of a journal file: its identity (device and inode, kept by a
     * rotation's rename) plus the CRC of its first record (the file's first 8 bytes), so a new
     * file that reuses a reaped archive's inode never inherits that archive's position.
     */
    public static String positionKey(JournalSource src) {
        try (FileChannel ch = FileChannel.open(src.path(), StandardOpenOption.READ)) {
            return positionKey(src.identity(), ch);
        } catch (IOException e) {
            return SOURCE_PREFIX + src.identity() + ":none"; // rotated or reaped meanwhile
        }
    }

    /** {@link #positionKey(JournalSource)} read from an open file. */
    public static String positionKey(String identity, FileChannel ch) throws IOException {
        ByteBuffer head = ByteBuffer.allocate(9);
        while (head.hasRemaining() && ch.read(head, head.position()) > 0) {
            // read until 9 bytes or end of file
        }
        String first = head.position() == 9 && head.get(8) == ' '
                ? new String(head.array(), 0, 8, StandardCharsets.US_ASCII) : "none";
        return SOURCE_PREFIX + identity + ":" + first;
    }

    /** The identity (device and inode) of the file now at {@code path}, "" if there is none. */
    private static String identityOf(Path path) {
        try {
            java.nio.file.attribute.BasicFileAttributes a = java.nio.file.Files.readAttributes(path,
                    java.nio.file.attribute.BasicFileAttributes.class, java.nio.file.LinkOption.NOFOLLOW_LINKS);
            Object key = a.fileKey();
            return key == null ? "" : key.toString();
        } catch (IOException e) {
            return "";
        }
    }

    /** Prefix of the dead-letter source of a journal line: {@code journal/<file name when read>}. */
    public static final String DEAD_LETTER_PREFIX = "journal/";

    private final JournalReader reader;
    private final DeadLetterQueue deadLetters;
    private final UsageStore store;
    private final Clock clock;
    private final int batchSize;
    private final int maxLineBytes;
    /**
     * Reads the next batch while the current one is appended. At most one thread, which ends
     * when idle, so an importer needs no closing.
     */
    private final ThreadPoolExecutor readAhead;
    /** Test seam: told each named step ({@link #CRASH_CORRECTION_APPLIED}). */
    private final java.util.function.Consumer<String> crash;

    /** After a journaled correction is applied (or refused), before its dead letter and the position past it. */
    public static final String CRASH_CORRECTION_APPLIED = "import.correction-applied";

    public JournalImporter(JournalReader reader, DeadLetterQueue deadLetters, UsageStore store, Clock clock, int batchSize,
            int maxLineBytes) {
        this(reader, deadLetters, store, clock, batchSize, maxLineBytes, step -> { });
    }

    /** With a test seam called at each named step (e.g. {@link #CRASH_CORRECTION_APPLIED}). */
    public JournalImporter(JournalReader reader, DeadLetterQueue deadLetters, UsageStore store, Clock clock, int batchSize,
            int maxLineBytes, java.util.function.Consumer<String> crash) {
        this.crash = java.util.Objects.requireNonNull(crash, "crash");
        this.reader = reader;
        this.deadLetters = deadLetters;
        this.store = store;
        this.clock = clock;
        this.batchSize = batchSize;
        this.maxLineBytes = maxLineBytes;
        this.readAhead = new ThreadPoolExecutor(1, 1, 1, TimeUnit.SECONDS, new LinkedBlockingQueue<>(), r -> {
            Thread t = new Thread(r, "tally-journal-read-ahead");
            t.setDaemon(true);
            return t;
        });
        this.readAhead.allowCoreThreadTimeOut(true);
    }

    /** Imports every complete record of every journal file; returns counts and the remaining lag. */
    public ImportReport runOnce() throws IOException {
        return runOnce(() -> false);
    }

    /**
     * Like {@link #runOnce()}, and stops between two batches once {@code stop} says so (a
     * graceful shutdown); every batch is committed whole or not at all either way.
     */
    public ImportReport runOnce(BooleanSupplier stop) throws IOException {
        Map<String, ImportPosition> committed = store.importPositions();
        Counts counts = new Counts();
        for (JournalSource src : reader.sources()) {
            if (stop.getAsBoolean()) {
                break;
            }
            // Read one open file throughout: journal.wal may be rotated (renamed) meanwhile, and
            // reading it by path again would read the next live file at this file's offsets.
            FileChannel ch;
            try {
                ch = FileChannel.open(src.path(), StandardOpenOption.READ);
            } catch (NoSuchFileException e) {
                continue; // reaped since the listing
            }
            try (ch) {
                if (!src.identity().equals(identityOf(src.path()))) {
                    continue; // rotated between the listing and the open: listed under its new name next pass
                }
                importFile(src, ch, committed.get(positionKey(src.identity(), ch)), stop, counts);
            }
        }
        return ImportReport.counts(counts.records, counts.stored, counts.duplicates, counts.dead);
    }

    /** Running totals of one pass. */
    private static final class Counts {
        long records;
        long stored;
        long duplicates;
        long dead;
    }

    private void importFile(JournalSource src, FileChannel ch, ImportPosition committed, BooleanSupplier stop,
            Counts counts) throws IOException {
        String key = positionKey(src.identity(), ch);
        long offset = startOffset(src, ch, committed);
        JournalReadResult r = reader.read(ch, src.path(), offset, batchSize, maxLineBytes);
        while (!stop.getAsBoolean()) {
            if (r.records().isEmpty()) {
                return;
            }
            // Read and decode the next batch on another thread while this one is appended: the
            // append mostly waits on DuckDB (appender, commit), the decode is CPU. Only reads run
            // ahead; the position still moves only with a committed batch.
            long next = r.nextOffset();
            Future<JournalReadResult> ahead = readAhead.submit(
                    () -> reader.read(ch, src.path(), next, batchSize, maxLineBytes));
            try {
                importBatch(src, ch, key, r, counts);
            } catch (IOException | RuntimeException | Error e) {
                awaitQuietly(ahead); // never leave a read running on a channel the caller closes
                throw e;
            }
            r = await(ahead);
        }
    }

    private static JournalReadResult await(Future<JournalReadResult> ahead) throws IOException {
        boolean interrupted = false;
        try {
            while (true) {
                try {
                    return ahead.get();
                } catch (InterruptedException e) {
                    interrupted = true; // the read is short; finish it rather than abandon the channel
                } catch (ExecutionException e) {
                    Throwable c = e.getCause();
                    if (c instanceof IOException io) {
                        throw io;
                    }
                    if (c instanceof RuntimeException re) {
                        throw re;
                    }
                    if (c instanceof Error err) {
                        throw err;
                    }
                    throw new IOException(c);
                }
            }
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private static void awaitQuietly(Future<JournalReadResult> ahead) {
        try {
            await(ahead);
        } catch (IOException | RuntimeException | Error ignored) {
            // the batch's own failure is what the caller reports
        }
    }

    /**
     * Imports one batch in journal order: its events up to a correction record (with the position
     * at that record), then the correction, and so on; the events after the last correction with
     * the batch's end position.
     */
    private void importBatch(JournalSource src, FileChannel ch, String key, JournalReadResult r, Counts counts)
            throws IOException {
        List<JournalRecord> pending = new ArrayList<>(r.records().size());
        boolean endCommitted = false;
        for (JournalRecord rec : r.records()) {
            if (rec instanceof JournalRecord.Correction c) {
                // A correction may void events just before it in this batch: store them first.
                if (!pending.isEmpty()) {
                    importEvents(src, ch, key, pending, c.startOffset(), counts);
                    pending.clear();
                }
                importCorrection(src, ch, key, c, counts);
                endCommitted = c.endOffset() == r.nextOffset();
            } else {
                pending.add(rec);
            }
        }
        if (!pending.isEmpty() || !endCommitted) {
            importEvents(src, ch, key, pending, r.nextOffset(), counts);
        }
    }

    /**
     * Applies one journaled correction, dead-letters it if the store refuses it (whole, or some of
     * its ids), then commits the position past it.
     *
     * <p>The correction lives in {@code corrections.db} and the position in the active segment:
     * two DuckDB files, so the two cannot commit in one transaction. The position therefore moves
     * only after the correction committed and its refusals are dead-lettered; a crash in between
     * ({@link #CRASH_CORRECTION_APPLIED}) applies it again on the next import, which its
     * correction id makes a no-op: a duplicate that answers the stored rejections, so they are
     * dead-lettered then (under the same key, which the queue skips if it holds them already).
     * {@link UsageStore#correctOnce} stores even a correction that corrected nothing, so a retry
     * never voids events journaled after it. A correction refused whole (closed period, malformed,
     * tenant not owned) is not stored; applied again it is refused again and its dead letter is
     * skipped as already queued.
     */
    private void importCorrection(JournalSource src, FileChannel ch, String key, JournalRecord.Correction rec,
            Counts counts) throws IOException {
        Correction c = rec.correction();
        RejectReason reason = null;
        String message = null;
        try {
            // Stored even when it corrects nothing: applied again, it must stay a no-op.
            CorrectionResult result = store.correctOnce(c);
            if (!result.rejected().isEmpty()) {
                CorrectionRejection first = result.rejected().get(0);
                reason = RejectReason.valueOf(first.reason().name());
                StringBuilder m = new StringBuilder("correction '").append(c.correctionId()).append("' of tenant '")
                        .append(c.tenant()).append("' corrected ").append(result.events()).append(" event(s); ")
                        .append(result.rejected().size()).append(" id(s) not corrected:");
                for (CorrectionRejection x : result.rejected()) {
                    m.append(" [").append(x.index()).append("] ").append(x.reason().code()).append(": ")
                            .append(x.message()).append(';');
                }
                message = m.toString();
            }
        } catch (ClosedPeriodException e) {
            reason = RejectReason.CLOSED_PERIOD;
            message = e.getMessage();
        } catch (CorrectionRefusedException e) {
            reason = e.reason();
            message = e.getMessage();
        } catch (IllegalArgumentException e) {
            reason = RejectReason.INVALID_CORRECTION;
            message = "correction '" + c.correctionId() + "': " + e.getMessage();
        }
        crash.accept(CRASH_CORRECTION_APPLIED);
        Instant now = clock.instant();
        if (reason != null) {
            log.warn("journal {} at offset {}: {} {}", src.name(), rec.startOffset(), reason.code(), message);
            // Durable before the position passes the record, like a refused event.
            deadLetters.add(List.of(deadLetter(ch, src, rec.startOffset(), rec.jsonOffset(), rec.jsonBytes(),
                    () -> CorrectionCodec.toJson(c).getBytes(StandardCharsets.UTF_8), reason, message, now)));
            counts.dead++;
        }
        counts.records++;
        ImportPosition position = new ImportPosition(key, rec.endOffset(), PositionCheck.journalFingerprint(ch,
                rec.endOffset()), src.name());
        store.appendValid(List.of(), position, RejectionSink.NONE);
    }

    /**
     * Dead-letters what is refused and appends the rest of {@code records} (events and damaged
     * lines, no correction) with the position {@code nextOffset}, in one transaction.
     */
    private void importEvents(JournalSource src, FileChannel ch, String key, List<JournalRecord> records,
            long nextOffset, Counts counts) throws IOException {
        List<ValidEvent> events = new ArrayList<>(records.size());
        List<JournalRecord.Event> eventRecords = new ArrayList<>(records.size());
        List<DeadLetter> refusedBeforeStore = new ArrayList<>();
        Instant now = clock.instant();
        for (JournalRecord rec : records) {
            if (rec instanceof JournalRecord.Event e) {
                // A canonical record was validated when journaled; only an unmarked one (an
                // event the journal could not validate, or a journal of an older version)
                // is checked here. The store checks the time bounds of both.
                ValidEvent v = e.valid();
                if (v == null) {
                    try {
                        v = EventRules.canonical(e.event());
                    } catch (EventRejectedException x) {
                        refusedBeforeStore.add(deadLetter(ch, src, e, x.reason(), x.getMessage(), now));
                        continue;
                    }
                }
                events.add(v);
                eventRecords.add(e);
            } else if (rec instanceof JournalRecord.Damaged d) {
                refusedBeforeStore.add(DeadLetter.of(sourceLabel(src), d.startOffset(), d.reason(), d.message(),
                        d.raw(), d.lineBytes(), now));
            }
        }
        ImportPosition position = new ImportPosition(key, nextOffset, PositionCheck.journalFingerprint(ch, nextOffset),
                src.name());
        long[] refused = {0};
        AppendResult result = store.appendValid(events, position, rejections -> {
            List<DeadLetter> letters = new ArrayList<>(refusedBeforeStore);
            for (Rejection x : rejections) {
                letters.add(deadLetter(ch, src, eventRecords.get(x.index()), x.reason(), x.message(), now));
            }
            if (!letters.isEmpty()) {
                deadLetters.add(letters);
            }
            refused[0] = letters.size();
        });
        counts.records += records.size();
        counts.stored += result.accepted();
        counts.duplicates += result.duplicates();
        counts.dead += refused[0];
    }

    /**
     * The dead letter of a refused record, keeping the record's JSON exactly as the journal holds
     * it (read again from the file: refusals are rare, so the common path keeps no copy).
     */
    private static DeadLetter deadLetter(FileChannel ch, JournalSource src, JournalRecord.Event e, RejectReason reason,
            String message, Instant now) throws IOException {
        return deadLetter(ch, src, e.startOffset(), e.jsonOffset(), e.jsonBytes(),
                () -> EventCodec.toJson(e.event()).getBytes(StandardCharsets.UTF_8), reason, message, now);
    }

    private static DeadLetter deadLetter(FileChannel ch, JournalSource src, long start, long jsonOffset, int jsonBytes,
            java.util.function.Supplier<byte[]> asRead, RejectReason reason, String message, Instant now)
            throws IOException {
        byte[] original = new byte[jsonBytes];
        ByteBuffer buf = ByteBuffer.wrap(original);
        while (buf.hasRemaining()) {
            if (ch.read(buf, jsonOffset + buf.position()) < 0) {
                // Cut meanwhile (cannot happen to an intact record short of a foreign writer):
                // keep the record as it was read.
                original = asRead.get();
                break;
            }
        }
        return DeadLetter.of(sourceLabel(src), start, reason, message, original, original.length, now);
    }

    /** Bytes in journal files not yet imported (complete or not). */
    public long lagBytes() {
        Map<String, ImportPosition> committed = store.importPositions();
        long lag = 0;
        for (JournalSource src : reader.sources()) {
            ImportPosition p = committed.get(positionKey(src));
            lag += Math.max(0, src.sizeBytes() - (p == null ? 0 : p.offset()));
        }
        return lag;
    }

    /**
     * The rotated archives now on disk, by path, from one listing. Reaping asks about each archive
     * from this snapshot: listing the directory once per archive made a pass quadratic, minutes
     * long with a few thousand archives. Archives are immutable, so the snapshot's sizes hold.
     */
    public Map<Path, JournalSource> archives() {
        Map<Path, JournalSource> out = new java.util.LinkedHashMap<>();
        for (JournalSource src : reader.sources()) {
            if (!src.live()) {
                out.put(src.path(), src);
            }
        }
        return out;
    }

    /** Whether a rotated archive is completely imported (so reaping may delete it). */
    public static boolean fullyImported(JournalSource archive, Map<String, ImportPosition> committed) {
        if (archive == null || archive.live()) {
            return false;
        }
        ImportPosition p = committed.get(positionKey(archive));
        return p != null && p.offset() >= archive.sizeBytes();
    }

    private long startOffset(JournalSource src, FileChannel ch, ImportPosition p) throws IOException {
        if (p == null) {
            return 0;
        }
        PositionCheck.Drift drift = PositionCheck.journal(p, ch);
        if (drift != null) {
            log.warn("journal file {} no longer matches its import position ({}: {}); importing it again from the "
                    + "start, duplicates are dropped by id", src.name(), drift.reason().code(), drift.detail());
            return 0;
        }
        return p.offset();
    }

    private static String sourceLabel(JournalSource src) {
        return DEAD_LETTER_PREFIX + src.name();
    }
}
