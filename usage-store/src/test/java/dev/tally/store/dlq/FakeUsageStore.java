package dev.tally.store.dlq;

import dev.tally.store.AppendResult;
import dev.tally.store.ImportPosition;
import dev.tally.store.RejectReason;
import dev.tally.store.Rejection;
import dev.tally.store.RetentionReport;
import dev.tally.store.SegmentInfo;
import dev.tally.store.StoreConfig;
import dev.tally.store.StoreException;
import dev.tally.store.Totals;
import dev.tally.store.UsageEvent;
import dev.tally.store.UsageStore;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * A tiny in-memory {@link UsageStore} for tests: records every append, deduplicates by tenant and
 * id, refuses events for which {@link #refuse} returns a reason, keeps import positions, and can
 * be told to fail its next appends. Only the import methods are implemented.
 *
 * <p>Thread-safe: every method is {@code synchronized} on the instance.
 */
public final class FakeUsageStore implements UsageStore {
    /** Every stored event, in append order. */
    public final List<UsageEvent> stored = new ArrayList<>();
    /** Every batch passed to an append call, including empty position-only ones. */
    public final List<List<UsageEvent>> appendCalls = new ArrayList<>();
    private final Set<String> keys = new HashSet<>();
    private final Map<String, ImportPosition> positions = new HashMap<>();
    /** Returns a reason to refuse an event, or null to accept it. */
    public volatile Function<UsageEvent, RejectReason> refuse = e -> null;
    /** Append calls left to fail with a {@link StoreException} before they take effect. */
    public int failNextAppends;
    /** Fail only appends that carry a position. */
    public boolean failOnlyPositionCommits;

    @Override
    public synchronized AppendResult append(List<UsageEvent> events) {
        return doAppend(events, null);
    }

    @Override
    public synchronized AppendResult append(List<UsageEvent> events, ImportPosition position) {
        return doAppend(events, position);
    }

    @Override
    public synchronized AppendResult append(List<UsageEvent> events, ImportPosition position,
            dev.tally.store.RejectionSink beforeCommit) {
        List<Rejection> refused = new ArrayList<>();
        for (int i = 0; i < events.size(); i++) {
            RejectReason r = refuse.apply(events.get(i));
            if (r != null) {
                refused.add(new Rejection(i, events.get(i).id(), r, "refused by the test store"));
            }
        }
        try {
            beforeCommit.accept(refused);
        } catch (java.io.IOException e) {
            throw new StoreException("sink failed: " + e.getMessage(), e);
        }
        return doAppend(events, position);
    }

    private AppendResult doAppend(List<UsageEvent> events, ImportPosition position) {
        if (failNextAppends > 0 && (!failOnlyPositionCommits || position != null)) {
            failNextAppends--;
            throw new StoreException("injected append failure");
        }
        appendCalls.add(List.copyOf(events));
        int accepted = 0;
        int duplicates = 0;
        List<Rejection> rejected = new ArrayList<>();
        for (int i = 0; i < events.size(); i++) {
            UsageEvent e = events.get(i);
            RejectReason r = refuse.apply(e);
            if (r != null) {
                rejected.add(new Rejection(i, e.id(), r, "refused by the test store"));
            } else if (keys.add(e.tenant() + "\u0000" + e.id())) {
                stored.add(e);
                accepted++;
            } else {
                duplicates++;
            }
        }
        if (position != null) {
            positions.put(position.source(), position);
        }
        return new AppendResult(accepted, duplicates, rejected);
    }

    @Override
    public synchronized Map<String, ImportPosition> importPositions() {
        return Map.copyOf(positions);
    }

    @Override
    public synchronized int forgetImportPositions(java.util.Collection<String> sources) {
        int n = 0;
        for (String src : sources) {
            n += positions.remove(src) == null ? 0 : 1;
        }
        return n;
    }

    /** Sets a committed position directly. */
    public synchronized void putPosition(ImportPosition p) {
        positions.put(p.source(), p);
    }

    @Override
    public Totals total(String tenant, String type, String subject, String valuePath, Instant from, Instant to) {
        throw new UnsupportedOperationException();
    }

    @Override
    public void sealNow() {
        throw new UnsupportedOperationException();
    }

    @Override
    public RetentionReport maintain() {
        throw new UnsupportedOperationException();
    }

    @Override
    public RetentionReport retention(boolean dryRun) {
        throw new UnsupportedOperationException();
    }

    @Override
    public dev.tally.store.CompactionReport compact(boolean allClosedDays) {
        throw new UnsupportedOperationException();
    }

    @Override
    public List<SegmentInfo> segments() {
        throw new UnsupportedOperationException();
    }

    @Override
    public StoreConfig config() {
        throw new UnsupportedOperationException();
    }

    @Override
    public void close() {
    }
}
