package dev.tally.store.internal;

import dev.tally.store.io.FileSync;

import java.io.IOException;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A published Parquet part as readers pin it. After {@link #retire} (retention), the file is
 * renamed to {@code .deleted} and removed once the last reader releases it, so a query that
 * started before retention still reads every file it planned to read.
 *
 * <p>Thread-safe.
 */
public final class PartHandle extends RefCounted implements dev.tally.store.read.PartFile {
    private static final Logger log = LoggerFactory.getLogger(PartHandle.class);

    private final SealedPart part;
    private final Path file;
    private final Path totals;
    private volatile String deleteReason;
    private volatile Runnable afterDelete = () -> { };

    PartHandle(SealedPart part, Path file) {
        this.part = part;
        this.file = file;
        // Totals are renamed into place before their part, and a published part's files never change.
        Path t = TotalsFile.of(file);
        this.totals = part.kind() == PartKind.ROLLUP && java.nio.file.Files.isRegularFile(t) ? t : null;
    }

    public SealedPart part() {
        return part;
    }

    public Path file() {
        return file;
    }

    /** The part's {@link TotalsFile}, or null when it has none (a detail part, or a rollup part written without). */
    @Override
    public Path totals() {
        return totals;
    }

    /** Schedules deletion for when no reader holds the part; drops the store's reference. */
    void retire(String reason, Runnable afterDelete) {
        this.deleteReason = reason;
        this.afterDelete = afterDelete;
        release();
    }

    /** Drops the store's reference without deleting (store closing). */
    void close() {
        release();
    }

    @Override
    protected void onLastRelease() {
        String reason = deleteReason;
        if (reason == null) {
            return;
        }
        Path doomed = file.resolveSibling(file.getFileName() + SegmentFiles.DELETED_SUFFIX);
        try {
            FileSync.moveAtomically(file, doomed);
            FileSync.deleteDurably(doomed);
            // After the part: a sidecar left by a crash here is deleted by recovery pass 5b.
            FileSync.deleteDurably(KeysFile.of(file));
            FileSync.deleteDurably(TotalsFile.of(file));
            log.info("deleted {} {} ({} rows, {}..{}): {}", part.kind().name().toLowerCase(java.util.Locale.ROOT),
                    part.path(), part.rows(), part.minTime(), part.maxTime(), reason);
        } catch (IOException e) {
            // Recovery pass 2 finishes a .deleted file; an orphan pass finds one never renamed.
            log.warn("could not delete {} ({}): {}", part.path(), reason, e.getMessage());
        } finally {
            afterDelete.run();
        }
    }

    /** {@code read_parquet([...]<options>)} over the handles' files. */
    static String parquetSource(java.util.List<PartHandle> handles, String options) {
        StringBuilder sb = new StringBuilder("read_parquet([");
        for (int i = 0; i < handles.size(); i++) {
            if (i > 0) {
                sb.append(", ");
            }
            sb.append(dev.tally.store.engine.Engine.literal(handles.get(i).file()));
        }
        return sb.append(']').append(options).append(')').toString();
    }

    @Override
    public String toString() {
        return part.path();
    }
}
