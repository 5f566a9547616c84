package dev.tally.store.internal;

import dev.tally.store.read.PartFile;

import dev.tally.store.EngineErrors;
import dev.tally.store.StoreConfig;
import dev.tally.store.StoreException;
import dev.tally.store.io.FileSync;
import dev.tally.store.read.TotalsFormat;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Content checks of published parts: on a failed read, and on demand over the whole archive
 * ({@code usage-worker repair check}). A damaged part (size or CRC32C differs from its manifest
 * entry) is handed to {@link StoreMaintenance#quarantine}, which owns the manifest; a report-only
 * store only reports it.
 *
 * <p>Thread-safe: holds no state of its own; it takes the maintenance lock only through
 * {@code quarantine}.
 */
final class PartChecks {
    private static final Logger log = LoggerFactory.getLogger(PartChecks.class);

    private final StoreConfig config;
    private final SegmentFiles files;
    private final TierState tiers;
    private final StoreMaintenance maintenance;

    PartChecks(StoreContext ctx, TierState tiers, StoreMaintenance maintenance) {
        this.config = ctx.config();
        this.files = ctx.files();
        this.tiers = tiers;
        this.maintenance = maintenance;
    }

    /**
     * Turns a failed read into an error that says what happened; see
     * {@link TieredStore#readFailure}. A damaged part among those read is quarantined first.
     */
    StoreException readFailure(List<? extends PartFile> partsRead, SQLException cause) {
        List<String> damaged = new ArrayList<>();
        for (PartFile f : partsRead) {
            if (!(f instanceof PartHandle h)) {
                continue; // not one of this store's parts
            }
            String problem = Quarantine.contentProblem(files, h.part());
            if (problem != null) {
                log.error("damaged archive part {} ({} rows {}..{}): {}", h.part().path(), h.part().rows(),
                        h.part().minTime(), h.part().maxTime(), problem);
                // Only what a tenant may see: the part's relative path and time span, not its rows.
                damaged.add(h.part().path() + " (events " + h.part().minTime() + ".." + h.part().maxTime() + ")");
                if (!config.readOnly()) {
                    maintenance.quarantine(h.part(), problem);
                }
            }
        }
        // The engine's text can quote another tenant's value from a shared part: log it, never return it.
        EngineErrors.Redacted r = EngineErrors.redact("query", cause);
        if (damaged.isEmpty()) {
            return new StoreException(r.message(), cause);
        }
        return new StoreException("query not answered: damaged archive part(s) " + String.join(", ", damaged)
                + (config.readOnly() ? "" : " quarantined to quarantine/; later queries answer without them, "
                        + "restore the file from a backup to get the rows back (see docs/reliability.md)")
                + "; incident " + r.incident(), cause);
    }

    /**
     * Checks every published part's size and CRC32C, and every rollup part's totals; see
     * {@link TieredStore#verifyParts}.
     */
    List<String> verifyParts() {
        List<String> problems = new ArrayList<>();
        for (SealedPart p : tiers.manifest().parts()) {
            String problem = Quarantine.contentProblem(files, p);
            if (problem != null) {
                problems.add(p.path() + ": " + problem);
                if (!config.readOnly()) {
                    maintenance.quarantine(p, problem);
                }
            } else if (p.kind() == PartKind.ROLLUP) {
                String totals = totalsProblem(p);
                if (totals != null) {
                    problems.add(p.path() + TotalsFile.SUFFIX + ": " + totals);
                }
            }
        }
        return problems;
    }

    /**
     * Reads a rollup part's totals whole (every checksum, the order, the footer's counts);
     * null when they are sound or absent. Damaged totals are deleted on a writable store: they are
     * derived from the part, which then answers from its hourly rows (readers that still hold the
     * file's name fall back the same way).
     */
    private String totalsProblem(SealedPart p) {
        Path totals = TotalsFile.of(FileSync.resolveInside(files.root(), p.path()));
        if (!Files.exists(totals)) {
            return null;
        }
        try {
            TotalsFormat.check(totals);
            return null;
        } catch (IOException e) {
            String problem = EngineErrors.scrubPaths(e.getMessage());
            if (config.readOnly()) {
                return problem;
            }
            try {
                FileSync.deleteDurably(totals);
            } catch (IOException d) {
                return problem + "; could not delete it: " + EngineErrors.scrubPaths(d.getMessage());
            }
            log.warn("deleted the totals of {}: {}; the part answers from its hourly rows", p.path(), problem);
            return problem + "; deleted, the part answers from its hourly rows";
        }
    }
}
