package dev.tally.worker.daemon;

import dev.tally.catalog.CatalogSettings;
import dev.tally.catalog.CatalogSync;
import dev.tally.catalog.SyncReport;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The worker's side of catalog registration: after each maintenance pass (seal, retention,
 * compaction) and once at start, makes the Iceberg tables' files of this data directory equal the
 * manifest ({@link CatalogSync#sync()}), and expires old snapshots every {@code expireInterval}.
 *
 * <p>The store does not wait for the catalog: a catalog that cannot be reached (PostgreSQL down)
 * is logged and tried again on the next pass, and since a sync reconciles against the manifest,
 * every pass it missed is caught up at once.
 *
 * <p>Thread-safe: {@link #pass()} and {@link #close()} are synchronized on this object; only the
 * maintenance loop calls {@link #pass()}.
 */
final class CatalogMaintenance implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(CatalogMaintenance.class);

    private final Path dataDir;
    private final CatalogSettings settings;
    private final Duration expireInterval;
    private final Clock clock;
    private CatalogSync sync;
    private Instant nextExpiry;
    private boolean failing;

    CatalogMaintenance(Path dataDir, CatalogSettings settings, Duration expireInterval, Clock clock) {
        this.dataDir = dataDir;
        this.settings = settings;
        this.expireInterval = expireInterval;
        this.clock = clock;
        this.nextExpiry = clock.instant();
    }

    /** Syncs the catalog with the manifest, and expires snapshots when due. Never throws on a catalog failure. */
    synchronized void pass() {
        try {
            if (sync == null) {
                sync = CatalogSync.open(dataDir, settings);
                log.info("catalog: {} (namespace {}, warehouse {})", CatalogSettings.redact(settings.uri()),
                        settings.namespace(), settings.warehouse());
            }
            List<SyncReport> reports = sync.sync();
            Instant now = clock.instant();
            if (!now.isBefore(nextExpiry)) {
                sync.expireSnapshots(now);
                nextExpiry = now.plus(expireInterval);
            }
            if (failing) {
                log.info("catalog: in step with the manifest again ({})", reports);
                failing = false;
            }
        } catch (IOException | RuntimeException e) {
            failing = true;
            log.warn("catalog: sync failed, the store goes on and the next maintenance pass tries again: {}",
                    e.toString());
            closeSync();
        }
    }

    private void closeSync() {
        if (sync != null) {
            sync.close();
            sync = null;
        }
    }

    @Override
    public synchronized void close() {
        closeSync();
    }
}
