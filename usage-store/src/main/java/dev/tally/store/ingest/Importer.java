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

    /** Deletes rotated journal archives that are completely imported; never the live journal or its lock. */
    public Predicate<Path> fullyImported() {
        Map<String, ImportPosition> committed = store.importPositions();
        return archive -> journalImporter.fullyImported(archive, committed);
    }

    /**
     * Deletes the journal archives that are completely imported and then forgets their import
     * positions (keyed while each file still existed), so the position table does not grow with
     * every rotation. A crash between the two leaves positions of missing files, which the next
     * reap does not see again: harmless rows, never a re-import of existing data.
     *
     * @return the archives deleted
     */
    public List<Path> reap(dev.tally.store.journal.Journal target) {
        Map<String, ImportPosition> committed = store.importPositions();
        Map<Path, String> keys = new java.util.HashMap<>();
        List<Path> deleted = target.reap(archive -> {
            boolean done = journalImporter.fullyImported(archive, committed);
            if (done) {
                for (JournalSource src : this.journal.sources()) {
                    if (src.path().equals(archive)) {
                        keys.put(archive, JournalImporter.positionKey(src));
                    }
                }
            }
            return done;
        });
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
