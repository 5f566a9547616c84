package dev.tally.store.correct;

import dev.tally.store.read.ReadView;

/**
 * The corrections one read applies to one tenant over one pinned view: the single hook every
 * read path calls around "the events of this view". {@link #source} takes corrected events out
 * of a source, {@link #amended} adds their new values as a source of its own, and
 * {@link #sealedOriginals} gives what to subtract from hourly rollups. With {@code apply} false
 * (the audit view), a store without a corrections record (null log) or a tenant without
 * corrections every method leaves the read as it was.
 *
 * <p>Thread-safe: immutable; the view is pinned and released by the caller.
 */
public final class CorrectedView {
    private final CorrectionLog log;
    private final ReadView view;
    private final String tenant;
    private final boolean active;
    private final long version;

    private CorrectedView(CorrectionLog log, ReadView view, String tenant, boolean apply) {
        this.log = log;
        this.view = view;
        this.tenant = tenant;
        this.version = apply && log != null ? log.version(tenant) : 0;
        this.active = version > 0;
    }

    /**
     * Corrections of {@code tenant} (every tenant when null) over {@code view}; {@code apply} false
     * reads the events as stored (the audit view).
     */
    public static CorrectedView of(CorrectionLog log, ReadView view, String tenant, boolean apply) {
        return new CorrectedView(log, view, tenant, apply);
    }

    /** True when this read changes anything. */
    public boolean active() {
        return active;
    }

    /**
     * Part of the cache key of any result computed through {@link #source}: 0 for the events as
     * stored, otherwise a number that changes with every correction of the tenant.
     */
    public long version() {
        return version;
    }

    /** {@code source} without the corrected events (all its columns kept); see {@link CorrectionLog#excluding}. */
    public String source(String source) {
        return active ? log.excluding(tenant, source) : source;
    }

    /** The amended events' new values (tenant, id, type, subject, source, time, data), or null when none. */
    public String amended() {
        return active ? log.replacements(tenant, view) : null;
    }

    /** The originals of corrected events held in sealed rollups, or null when none; see {@link CorrectionLog#sealedOriginals}. */
    public String sealedOriginals() {
        return active ? log.sealedOriginals(tenant, view) : null;
    }
}
