package dev.tally.store.ingest;

import dev.tally.store.ImportPosition;
import dev.tally.store.ReadOnlyStoreException;
import dev.tally.store.StoreException;
import dev.tally.store.UsageStore;
import dev.tally.store.dlq.DeadLetterQueue;
import dev.tally.store.journal.JournalReader;
import dev.tally.store.journal.JournalSource;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

/**
 * One import pass over everything pending: the journal first (rotated archives, then the live
 * file), then the spool directories. Keeps the loop's health (last success, lag, failures) so a
 * stuck import is visible, never silent.
 *
 * <p>Not thread-safe for {@link #runOnce()} (one import loop per data directory); {@link #health()}
 * may be read from any thread.
 */
public final class Importer {
    private final UsageStore store;
    private final JournalReader journal;
    private final JournalImporter journalImporter;
    private final SpoolImporter spoolImporter;
    private final SpoolScanner spoolScanner;
    private final DeadLetterQueue deadLetters;
    private final Clock clock;
    private volatile ImportHealth health = new ImportHealth(null, null, 0, "", 0, 0);
    /**
     * Per rotated archive, the store's {@link UsageStore#lastWrittenSeq()} when the archive was
     * first seen fully imported: its rows are in that segment or a lower one, so it may go once the store has
     * sealed every segment up to there. In memory only: after a restart each archive waits for
     * one more seal, which is later than needed, never earlier.
     */
    private final Map<Path, Long> importedAtSeq = new java.util.concurrent.ConcurrentHashMap<>();

    /**
     * @param dataDir      the store's data directory: journal in {@code journal/}, dead letters in
     *                     {@code dlq/}, spool state in {@code import/}
     * @param spoolDirs    directories of NDJSON files to import
     * @param batchSize    events per transaction
     * @param maxLineBytes longer lines are dead-lettered without being read whole
     */
    public Importer(UsageStore store, Path dataDir, List<Path> spoolDirs, int batchSize, int maxLineBytes,
            DeadLetterQueue deadLetters, Clock clock) {
        if (store.config().readOnly() || deadLetters.readOnly()) {
            // Report-only: an import writes rows, positions and dead letters.
            throw new ReadOnlyStoreException("import");
        }
        this.store = store;
        this.clock = clock;
        this.deadLetters = deadLetters;
        this.journal = new JournalReader(dataDir);
        this.journalImporter = new JournalImporter(journal, deadLetters, store, clock, batchSize, maxLineBytes);
        this.spoolScanner = new SpoolScanner(dataDir, SpoolDirectory.indexed(spoolDirs), maxLineBytes, false, clock);
        this.spoolImporter = new SpoolImporter(spoolScanner, deadLetters, store, clock, batchSize);
    }

    public SpoolScanner spoolScanner() {
        return spoolScanner;
    }

    public DeadLetterQueue deadLetters() {
        return deadLetters;
    }

    /**
     * Imports everything pending once. A failure leaves every position where its last committed
     * batch put it, is recorded in {@link #health()}, and is rethrown for the loop to back off.
     */
    public ImportReport runOnce() {
        return runOnce(() -> false);
    }

    /**
     * Like {@link #runOnce()}, and stops between two batches once {@code stop} says so, so a
     * graceful shutdown does not wait for a whole backlog. Every batch is committed whole or not
     * at all either way; what is left is imported by the next pass.
     */
    public ImportReport runOnce(java.util.function.BooleanSupplier stop) {
        Instant start = clock.instant();
        try {
            ImportReport j = journalImporter.runOnce(stop);
            ImportReport s = stop.getAsBoolean() ? ImportReport.empty() : spoolImporter.runOnce();
            ImportReport pass = j.plus(s);
            health = new ImportHealth(clock.instant(), start, 0, "", lagBytes(), lagSeconds());
            return pass;
        } catch (IOException | RuntimeException e) {
            ImportHealth h = health;
            health = new ImportHealth(h.lastSuccess(), start, h.consecutiveFailures() + 1, String.valueOf(e.getMessage()),
                    h.lagBytes(), h.lagSeconds());
            if (e instanceof RuntimeException re) {
                throw re;
            }
            throw new StoreException("import pass failed: " + e.getMessage(), e);
        }
    }

    /**
     * Whether a rotated journal archive is completely imported; never the live journal or its lock.
     * Imported is not sealed: an archive deleted on this test alone is lost with a damaged active
     * segment. {@link #reap} waits for the seal too.
     */
    public Predicate<Path> fullyImported() {
        Map<String, ImportPosition> committed = store.importPositions();
        Map<Path, JournalSource> archives = journalImporter.archives();
        return archive -> JournalImporter.fullyImported(archives.get(archive), committed);
    }

    /**
     * Deletes the journal archives whose events are all sealed to Parquet, and then forgets their
     * import positions (keyed while each file still existed), so the position table does not grow
     * with every rotation. Imported is not enough: rows that are only in the active segment are
     * lost if that file is damaged, and {@code repair active} rebuilds them from the journal. So an
     * archive goes once it is fully imported and every segment up to the one that was active when
     * it was first seen so is sealed. A crash between deletion and forgetting leaves positions of
     * missing files, which the next reap does not see again: harmless rows, never a re-import of
     * existing data.
     *
     * @return the archives deleted
     */
    public List<Path> reap(dev.tally.store.journal.Journal target) {
        Map<String, ImportPosition> committed = store.importPositions();
        // Read after the positions: the rows they cover were committed to this segment or a lower one.
        long active = store.lastWrittenSeq();
        long sealedThrough = store.sealedThroughSeq();
        Map<Path, String> keys = new java.util.HashMap<>();
        Map<Path, JournalSource> archives = journalImporter.archives(); // one listing per pass, not per archive
        importedAtSeq.keySet().retainAll(archives.keySet());
        List<Path> deleted = target.reap(archive -> {
            JournalSource src = archives.get(archive);
            if (!JournalImporter.fullyImported(src, committed)) {
                importedAtSeq.remove(archive); // positions lost (a repaired store): seen again from scratch
                return false;
            }
            long seenAt = importedAtSeq.computeIfAbsent(archive, a -> active);
            if (seenAt > sealedThrough) {
                return false; // some of its rows may still be only in an unsealed segment
            }
            keys.put(archive, JournalImporter.positionKey(src));
            return true;
        });
        deleted.forEach(importedAtSeq::remove);
        List<String> forget = new ArrayList<>();
        for (Path p : deleted) {
            String k = keys.get(p);
            if (k != null && committed.containsKey(k)) {
                forget.add(k);
            }
        }
        store.forgetImportPositions(forget);
        return deleted;
    }

    public ImportHealth health() {
        return health;
    }

    private long lagBytes() {
        return journalImporter.lagBytes();
    }

    /**
     * Bytes of journal files not yet imported, measured now. {@link #health()} holds the figure of
     * the last finished pass, which reads 0 while a long pass is still catching up.
     */
    public long currentLagBytes() {
        return lagBytes();
    }

    /** Age of the oldest journal file with bytes not yet imported, measured now. */
    public double currentLagSeconds() {
        return lagSeconds();
    }

    /** Age of the oldest journal file that still has unimported bytes. */
    private double lagSeconds() {
        Map<String, ImportPosition> committed = store.importPositions();
        Instant oldest = null;
        for (JournalSource src : journal.sources()) {
            ImportPosition p = committed.get(JournalImporter.positionKey(src));
            if (src.sizeBytes() > (p == null ? 0 : p.offset())) {
                try {
                    Instant m = Files.getLastModifiedTime(src.path()).toInstant();
                    oldest = oldest == null || m.isBefore(oldest) ? m : oldest;
                } catch (IOException ignored) {
                    // rotated or reaped meanwhile: no longer lagging
                }
            }
        }
        return oldest == null ? 0 : Math.max(0, Duration.between(oldest, clock.instant()).toMillis() / 1000.0);
    }
}
