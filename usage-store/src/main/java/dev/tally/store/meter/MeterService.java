package dev.tally.store.meter;

import dev.tally.store.correct.CorrectedStore;
import dev.tally.store.correct.CorrectedView;
import dev.tally.store.correct.CorrectionLog;
import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.tally.store.StoreException;
import dev.tally.store.UsageStore;
import dev.tally.store.read.PartFile;
import dev.tally.store.read.PartInfo;
import dev.tally.store.read.ReadView;
import dev.tally.store.read.SegmentSource;
import dev.tally.store.read.StoreReader;
import dev.tally.store.read.TierSql;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.duckdb.DuckDBConnection;

/**
 * Answers {@link MeterQuery meter queries} over every tier of a store: sealed parts (from hourly
 * rollups where that is exact, otherwise from detail) plus the active and pending segments (from
 * detail). Each query reads one pinned view of the store, so a concurrent seal or retention can
 * neither hide rows nor show them twice.
 *
 * <p>Per-part partial results (count, exact sum, min, max per window, subject and group) are
 * cached, keyed by the part's path and CRC32C and the query's shape, so a changed file is never
 * answered from the cache; entries of parts that retention deleted are dropped as soon as the
 * last reader lets go of the part. UNIQUE_COUNT, LATEST and percentiles are not cached.
 *
 * <p>Thread-safe.
 */
public final class MeterService implements AutoCloseable {
    /** Default cache size, in cached result rows. */
    public static final long DEFAULT_CACHE_ROWS = 2_000_000;

    private static final Logger log = LoggerFactory.getLogger(MeterService.class);
    private static final BigDecimal DECIMAL_LIMIT = new BigDecimal("1e29");

    private final StoreReader store;
    private final MeterRegistry registry;
    private final Cache<PartKey, Map<Partial.Key, Partial>> cache;
    private final AutoCloseable listener;
    private final boolean cacheEnabled;
    /** Most rows one part's widened entry may have before its shape stops being widened. */
    private final long maxWideRows;
    /** Widened shapes whose parts had too many subjects to cache whole: asked per subject instead. */
    private final Set<ResolvedQuery.PartialShape> tooWide = java.util.concurrent.ConcurrentHashMap.newKeySet();
    /** Totals files that failed a check, each logged once; their parts are read from hourly rows. */
    private final Set<java.nio.file.Path> damagedTotals = java.util.concurrent.ConcurrentHashMap.newKeySet();

    /** A service over {@code store} answering for the meters of {@code registry}, with the default cache. */
    public MeterService(UsageStore store, MeterRegistry registry) {
        this(store, registry, DEFAULT_CACHE_ROWS);
    }

    /** Like {@link #MeterService(UsageStore, MeterRegistry)}; {@code cacheRows} 0 turns the cache off. */
    public MeterService(UsageStore store, MeterRegistry registry, long cacheRows) {
        this(StoreReader.of(store), registry, cacheRows);
    }

    /** A service over the read side of a store; {@code cacheRows} 0 turns the cache off. */
    public static MeterService over(StoreReader reader, MeterRegistry registry, long cacheRows) {
        return new MeterService(Objects.requireNonNull(reader, "reader"), registry, cacheRows);
    }

    /** The store's corrections record, or null for a reader without one. */
    private final CorrectionLog corrections;

    private MeterService(StoreReader ts, MeterRegistry registry, long cacheRows) {
        if (cacheRows < 0) {
            throw new IllegalArgumentException("cacheRows = " + cacheRows + " must not be negative");
        }
        this.store = Objects.requireNonNull(ts, "store");
        this.corrections = ts instanceof CorrectedStore cs ? cs.corrections() : null;
        this.registry = Objects.requireNonNull(registry, "registry");
        this.cacheEnabled = cacheRows > 0;
        this.maxWideRows = Math.max(1, cacheRows / 256);
        this.cache = Caffeine.newBuilder()
                .maximumWeight(cacheRows)
                .weigher((PartKey k, Map<Partial.Key, Partial> v) -> v.size() + 1)
                .build();
        this.listener = ts.onPartDeleted(this::forget);
    }

    public MeterRegistry registry() {
        return registry;
    }

    /** How many per-part results are cached now. */
    public long cachedParts() {
        cache.cleanUp();
        return cache.estimatedSize();
    }

    /** How many cached per-part results belong to the part file at {@code path} (relative to the data directory). */
    public long cachedEntriesFor(String path) {
        return cache.asMap().keySet().stream().filter(k -> k.path().equals(path)).count();
    }

    private void forget(PartInfo part) {
        cache.asMap().keySet().removeIf(k -> k.path().equals(part.path()));
    }

    /**
     * Answers {@code q}. Refuses an unknown meter, dimension or an invalid range with
     * {@link InvalidMeterException}; throws {@link MeterQueryException} when the data it needs is
     * gone (detail deleted by retention) or a value leaves DECIMAL(38,9).
     */
    public MeterResult query(MeterQuery q) {
        return query(q, false);
    }

    /**
     * Like {@link #query(MeterQuery)}; with {@code uncorrected} the events are read as stored,
     * ignoring every correction (the audit view; see {@code docs/corrections.md}).
     */
    public MeterResult query(MeterQuery q, boolean uncorrected) {
        Objects.requireNonNull(q, "query");
        MeterDefinition meter = registry.get(q.meter()).orElseThrow(() -> new InvalidMeterException("meter",
                q.meter(), "no such meter; registered: " + registry.all().stream().map(MeterDefinition::name).toList()));
        ResolvedQuery r = new ResolvedQuery(meter, q);
        String refusal = r.rollupRefusal();
        if (refusal == null && !uncorrected && corrections != null && corrections.any(q.tenant())
                && (meter.aggregation() == Aggregation.MIN || meter.aggregation() == Aggregation.MAX)) {
            refusal = "tenant '" + q.tenant() + "' has corrections, and a " + meter.aggregation()
                    + " cannot take a voided value back out of an hourly rollup";
        }
        boolean rollup = refusal == null;
        String plan = rollup ? "hourly rollups: " + meter.aggregation() + " combines exactly from hourly sums, no "
                + "groups or filters, and every window is whole UTC hours"
                : "detail: " + refusal;
        ReadView view = store.acquireView();
        DuckDBConnection c = null;
        try {
            c = store.engine().borrow();
            Run run = new Run(CorrectedView.of(corrections, view, q.tenant(), !uncorrected));
            Map<Partial.Key, Object> values;
            if (!rollup) {
                checkDetailKept(view, r, refusal);
            }
            if (meter.aggregation().decomposable()) {
                Map<Partial.Key, Partial> acc = partials(c, view, r, rollup, run);
                values = new HashMap<>(acc);
            } else {
                values = holistic(c, view, r, run);
            }
            List<MeterRow> rows = rows(r, values);
            return new MeterResult(meter, q, rows, rollup ? MeterResult.Source.ROLLUP : MeterResult.Source.DETAIL,
                    plan, run.partsRead, run.partsFromCache, run.segmentsRead,
                    view.partialWarnings(q.from(), q.to(), rollup, !rollup));
        } catch (SQLException e) {
            throw failure(meter, q, view, e);
        } finally {
            if (c != null) {
                store.engine().giveBack(c);
            }
            view.close();
        }
    }

    /**
     * The events, values and exact sum of a summed, single-window query read from detail, without
     * refusing a range whose detail is partly gone: what {@link StoreTotals} answers.
     */
    Partial detailTotal(MeterDefinition meter, MeterQuery q) {
        ResolvedQuery r = new ResolvedQuery(meter, q);
        ReadView view = store.acquireView();
        DuckDBConnection c = null;
        try {
            c = store.engine().borrow();
            Partial sum = Partial.EMPTY;
            Run run = new Run(CorrectedView.of(corrections, view, q.tenant(), true));
            for (Partial p : partials(c, view, r, false, run).values()) {
                sum = sum.plus(p);
            }
            return sum;
        } catch (SQLException e) {
            throw failure(meter, q, view, e);
        } finally {
            if (c != null) {
                store.engine().giveBack(c);
            }
            view.close();
        }
    }

    private RuntimeException failure(MeterDefinition meter, MeterQuery q, ReadView view, SQLException e) {
        String msg = String.valueOf(e.getMessage());
        if (msg.contains("Overflow")) {
            return new MeterQueryException("meter '" + meter.name() + "': a sum over " + q.from() + ".." + q.to()
                    + " does not fit DECIMAL(38,9) (more than 29 integer digits); query shorter windows", e);
        }
        // Damaged parts are quarantined; the engine's text (it can quote another tenant's value) is
        // logged under an incident id and never returned.
        List<PartFile> read = new ArrayList<>(view.detailParts(q.from(), q.to()));
        read.addAll(view.rollupParts(q.from(), q.to()));
        return store.readFailure(read, e);
    }

    private static final class Run {
        int partsRead;
        int partsFromCache;
        int segmentsRead;
        /** The corrections this query applies. */
        final CorrectedView fix;

        Run(CorrectedView fix) {
            this.fix = fix;
        }
    }

    /**
     * Refuses a detail query over a range where retention already deleted detail that hourly
     * rollups still summarize: the answer would silently miss those events.
     */
    private static void checkDetailKept(ReadView view, ResolvedQuery r, String why) {
        List<String> lost = view.lostDetailDays(r.query.from(), r.query.to());
        if (!lost.isEmpty()) {
            throw new MeterQueryException("meter '" + r.meter.name() + "' needs event detail (" + why + "), but "
                    + "the detail of " + lost + " in " + r.query.from() + ".." + r.query.to()
                    + " is gone (deleted by retention, or quarantined as damaged: see segments); only hourly rollups remain there. Start the range at "
                    + view.detailCompleteFrom(r.query.from(), r.query.to()) + " or later, or ask a question "
                    + "the rollups answer (SUM/COUNT/MIN/MAX/AVG, no groups or filters, whole-hour windows)");
        }
    }

    private Map<Partial.Key, Partial> partials(DuckDBConnection c, ReadView view, ResolvedQuery r, boolean rollup,
            Run run) throws SQLException {
        Map<Partial.Key, Partial> acc = new HashMap<>();
        // Sealed parts are computed, and cached, for the query's subjects, or for every subject of
        // the tenant when that makes the next question a cache hit (see widened).
        ResolvedQuery perPart = widened(r, rollup);
        Set<String> keep = perPart == r ? null : Set.copyOf(r.query.subjects());
        ResolvedQuery.PartialShape shape = perPart.shape(rollup);
        List<PartFile> misses = new ArrayList<>();
        Map<PartFile, PartKey> keys = new HashMap<>();
        List<? extends PartFile> parts = rollup ? view.rollupParts(r.query.from(), r.query.to())
                : view.detailParts(r.query.from(), r.query.to());
        for (PartFile p : parts) {
            boolean whole = p.part().within(r.query.from(), r.query.to());
            // Rollup parts are read as stored (corrections are subtracted below), detail parts without corrected events.
            PartKey key = new PartKey(p.part().path(), p.part().crc32c(), shape, whole ? null : r.query.from(),
                    whole ? null : r.query.to(), rollup ? 0 : run.fix.version());
            Map<Partial.Key, Partial> hit = cacheEnabled ? cache.getIfPresent(key) : null;
            if (hit != null) {
                merge(acc, hit, keep);
                run.partsFromCache++;
            } else {
                misses.add(p);
                keys.put(p, key);
            }
        }
        // One window over a whole part: its totals answer, found without the engine.
        Map<PartFile, Map<Partial.Key, Partial>> fromTotals = rollup ? fromTotals(perPart, misses) : Map.of();
        List<PartFile> engineParts = new ArrayList<>(misses);
        engineParts.removeAll(fromTotals.keySet());
        // Every other source of the answer in one statement: the parts left, each overlapping
        // segment and the corrections' sources. Each DuckDB statement has a fixed cost (parse,
        // plan, schedule) whatever it reads, paid once instead of once per source. Rows of a part
        // come back named by file only when the cache keeps them per part; the rest have a NULL file.
        boolean perFile = cacheEnabled;
        List<String> pieces = new ArrayList<>();
        if (!engineParts.isEmpty()) {
            pieces.add(rollup ? MeterSql.rollupPartials(perPart, engineParts, perFile)
                    : perFile ? MeterSql.detailPartials(perPart, run.fix.source(TierSql.parquet(engineParts, true)), "filename")
                    : MeterSql.withoutFile(MeterSql.detailPartials(perPart, run.fix.source(TierSql.parquet(engineParts,
                            false)), null)));
        }
        List<SegmentSource> segments = TierSql.overlapping(view.segments(), r.query.from(), r.query.to());
        for (SegmentSource h : segments) {
            pieces.add(MeterSql.withoutFile(MeterSql.detailPartials(r, run.fix.source(h.eventsTable()), null)));
        }
        corrections(r, rollup, run, pieces);
        Map<String, Map<Partial.Key, Partial>> perSource = pieces.isEmpty() ? new HashMap<>()
                : readPartials(c, MeterSql.union(pieces), r);
        Map<Partial.Key, Partial> unnamed = perSource.remove(NO_FILE);
        if (unnamed != null) {
            // Segments and corrections are read for the query itself, and so are the parts when
            // not per file (no cache, so never widened): no subject to drop.
            merge(acc, unnamed);
        }
        for (PartFile p : misses) {
            Map<Partial.Key, Partial> m = fromTotals.get(p);
            if (m == null && perFile) {
                m = perSource.getOrDefault(p.file().toString(), Map.of());
            }
            if (m != null) {
                if (perFile) {
                    if (keep != null && m.size() > maxWideRows && tooWide.add(shape)) {
                        // A tenant with this many subjects would crowd the cache out: ask per subject from now on.
                        log.info("meter cache: {} has {} rows in part {} for all subjects; caching it per subject "
                                + "from now on", r.query.tenant(), m.size(), p.part().path());
                    }
                    cache.put(keys.get(p), Collections.unmodifiableMap(m));
                }
                merge(acc, m, keep);
            }
            run.partsRead++;
        }
        run.segmentsRead += segments.size();
        return acc;
    }

    /**
     * The partials of the parts of {@code parts} whose totals answer {@code r} ({@link
     * TotalsLookup}), by part. A part whose totals fail a check is left out, to be read from its
     * hourly rows, and logged once.
     */
    private Map<PartFile, Map<Partial.Key, Partial>> fromTotals(ResolvedQuery r, List<PartFile> parts) {
        Map<PartFile, Map<Partial.Key, Partial>> out = new HashMap<>();
        for (PartFile p : parts) {
            if (TotalsLookup.applies(r, p)) {
                try {
                    out.put(p, TotalsLookup.read(r, p));
                } catch (java.io.IOException e) {
                    if (damagedTotals.add(p.totals())) {
                        log.warn("{}; part {} is read from its hourly rows instead", e.getMessage(), p.part().path());
                    }
                }
            }
        }
        return out;
    }

    /** The file name of rows that come from no part (a segment, corrections), or from parts not read per file. */
    private static final String NO_FILE = "";

    /**
     * Adds the sources of corrections to {@code pieces}: the amended events' new values, and on
     * the rollup path the originals of corrected events, negated, to take them out of the hourly
     * sums (rollup parts are immutable: corrections are deltas). MIN and MAX never come here with
     * corrections (they cannot subtract; they read detail).
     */
    private static void corrections(ResolvedQuery r, boolean rollup, Run run, List<String> pieces) {
        String amended = run.fix.amended();
        if (amended != null) {
            pieces.add(MeterSql.withoutFile(MeterSql.detailPartials(r, amended, null)));
        }
        String originals = rollup ? run.fix.sealedOriginals() : null;
        if (originals != null) {
            pieces.add(MeterSql.negated(r, MeterSql.detailPartials(r, originals, null)));
        }
    }

    private static void merge(Map<Partial.Key, Partial> into, Map<Partial.Key, Partial> from) {
        from.forEach((k, v) -> into.merge(k, v, Partial::plus));
    }

    /** Like {@link #merge(Map, Map)}, only the rows of {@code subjects} (all rows when null). */
    private static void merge(Map<Partial.Key, Partial> into, Map<Partial.Key, Partial> from, Set<String> subjects) {
        if (subjects == null) {
            merge(into, from);
            return;
        }
        from.forEach((k, v) -> {
            if (subjects.contains(k.subject())) {
                into.merge(k, v, Partial::plus);
            }
        });
    }

    /**
     * Most windows for which a query naming its subjects is computed per part for every subject of
     * the tenant instead; beyond it the cached entries would grow by subjects times windows.
     */
    static final int WIDEN_MAX_WINDOWS = 2;

    /**
     * The query sealed parts are computed for: {@code r} itself, or, when the cache is on and
     * {@code r} names subjects to report one by one over at most {@value #WIDEN_MAX_WINDOWS}
     * windows (a billing run's monthly total per subject), the same query for every subject of the
     * tenant. The first such query then reads a part's whole tenant (a little slower than one
     * subject's row groups), and every later subject is answered from the cache; the rows of
     * other subjects are dropped when merging, so the answer is the same. A shape whose part
     * turned out to hold more than 1/256 of the cache's rows is not widened again: a tenant with
     * that many subjects would evict its own entries.
     */
    private ResolvedQuery widened(ResolvedQuery r, boolean rollup) {
        MeterQuery q = r.query;
        if (!cacheEnabled || !q.perSubject() || q.subjects().isEmpty() || r.windows.count() > WIDEN_MAX_WINDOWS) {
            return r;
        }
        ResolvedQuery wide = new ResolvedQuery(r.meter, new MeterQuery(q.meter(), q.tenant(), q.from(), q.to(),
                q.window(), q.zone(), List.of(), true, q.groupBy(), q.filters(), q.detailOnly()));
        return tooWide.contains(wide.shape(rollup)) ? r : wide;
    }

    /** Reads partials statements' rows (f, ws, s, g0.., n, nv, sv, mn, mx) by file; NULL files under {@link #NO_FILE}. */
    private static Map<String, Map<Partial.Key, Partial>> readPartials(DuckDBConnection c, String sql,
            ResolvedQuery r) throws SQLException {
        Map<String, Map<Partial.Key, Partial>> out = new HashMap<>();
        int groups = r.groups.size();
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            while (rs.next()) {
                int col = 1;
                String named = rs.getString(col++);
                String file = named == null ? NO_FILE : named;
                Partial.Key key = key(rs, col, groups);
                col += 2 + groups;
                Partial p = new Partial(rs.getLong(col), rs.getLong(col + 1), rs.getBigDecimal(col + 2),
                        rs.getBigDecimal(col + 3), rs.getBigDecimal(col + 4));
                out.computeIfAbsent(file, f -> new HashMap<>()).merge(key, p, Partial::plus);
            }
        }
        return out;
    }

    private static Partial.Key key(ResultSet rs, int col, int groups) throws SQLException {
        long ws = rs.getLong(col);
        if (rs.wasNull()) {
            ws = Windows.WHOLE_RANGE;
        }
        String subject = rs.getString(col + 1);
        List<String> g = new ArrayList<>(groups);
        for (int i = 0; i < groups; i++) {
            g.add(rs.getString(col + 2 + i));
        }
        return new Partial.Key(ws, subject, g);
    }

    /** UNIQUE_COUNT, LATEST and percentiles: one statement over every source. Values are {@link Holistic}. */
    private static Map<Partial.Key, Object> holistic(DuckDBConnection c, ReadView view, ResolvedQuery r, Run run)
            throws SQLException {
        List<String> sources = new ArrayList<>();
        for (String source : TierSql.detailSources(view, r.query.from(), r.query.to())) {
            sources.add(run.fix.source(source));
        }
        if (run.fix.amended() != null) {
            sources.add(run.fix.amended());
        }
        run.partsRead += view.detailParts(r.query.from(), r.query.to()).size();
        run.segmentsRead += TierSql.overlapping(view.segments(), r.query.from(), r.query.to()).size();
        Map<Partial.Key, Object> out = new HashMap<>();
        if (sources.isEmpty()) {
            return out;
        }
        int groups = r.groups.size();
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(MeterSql.holistic(r, sources))) {
            while (rs.next()) {
                Partial.Key key = key(rs, 1, groups);
                int col = 3 + groups;
                out.put(key, new Holistic(rs.getLong(col), rs.getBigDecimal(col + 1)));
            }
        }
        return out;
    }

    private record Holistic(long events, BigDecimal value) {
    }

    private static List<MeterRow> rows(ResolvedQuery r, Map<Partial.Key, Object> values) {
        List<Partial.Key> keys = new ArrayList<>(values.keySet());
        keys.sort(Partial.ORDER);
        List<MeterRow> rows = new ArrayList<>(keys.size());
        Aggregation a = r.meter.aggregation();
        for (Partial.Key k : keys) {
            Object v = values.get(k);
            long events;
            BigDecimal value;
            if (v instanceof Partial p) {
                if (p.events() == 0) {
                    continue;
                }
                events = p.events();
                value = switch (a) {
                    case SUM -> p.sum() == null ? BigDecimal.ZERO.setScale(9) : p.sum();
                    case COUNT -> BigDecimal.valueOf(r.value == null ? p.events() : p.values());
                    case MIN -> p.min();
                    case MAX -> p.max();
                    case AVG -> p.values() == 0 ? null
                            : p.sum().divide(BigDecimal.valueOf(p.values()), MeterRow.AVG_SCALE, RoundingMode.HALF_EVEN);
                    default -> throw new IllegalStateException(String.valueOf(a));
                };
            } else {
                Holistic h = (Holistic) v;
                events = h.events();
                value = a == Aggregation.UNIQUE_COUNT ? BigDecimal.valueOf(h.value().longValueExact()) : h.value();
            }
            if (value != null && a != Aggregation.COUNT && a != Aggregation.UNIQUE_COUNT) {
                value = value.setScale(9, RoundingMode.UNNECESSARY);
                if (value.abs().compareTo(DECIMAL_LIMIT) >= 0) {
                    throw new MeterQueryException("meter '" + r.meter.name() + "': the " + a + " of a window is "
                            + value.toPlainString() + ", which does not fit DECIMAL(38,9) (more than 29 integer "
                            + "digits); query shorter windows");
                }
            }
            int w = r.windows.indexOf(k.window());
            if (w < 0) {
                throw new StoreException("internal error: window start " + k.window() + " is not a window of " + r.query);
            }
            Map<String, String> groups = new LinkedHashMap<>();
            for (int i = 0; i < r.groups.size(); i++) {
                groups.put(r.query.groupBy().get(i), k.groups().get(i));
            }
            rows.add(new MeterRow(r.windows.startOf(w), r.windows.endOf(w), k.subject(),
                    Collections.unmodifiableMap(groups), value, events));
        }
        return rows;
    }

    /** Drops every cached per-part result. */
    public void invalidateAll() {
        cache.invalidateAll();
    }

    /** Stops listening to the store; the store itself stays open. */
    @Override
    public void close() {
        try {
            listener.close();
        } catch (Exception e) {
            // unregistering from a list cannot fail
        }
        cache.invalidateAll();
    }

    /** A cached per-part result: the part's identity (path and CRC32C), the query's shape and, when the part is not wholly inside the range, the range. */
    record PartKey(String path, long crc32c, ResolvedQuery.PartialShape shape, Instant from, Instant to,
            long corrections) {
    }

}
