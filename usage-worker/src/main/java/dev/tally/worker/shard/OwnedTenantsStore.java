package dev.tally.worker.shard;

import dev.tally.worker.config.ShardMap;

import dev.tally.store.AppendResult;
import dev.tally.store.CompactionReport;
import dev.tally.store.ImportPosition;
import dev.tally.store.RejectReason;
import dev.tally.store.Rejection;
import dev.tally.store.RejectionSink;
import dev.tally.store.RetentionReport;
import dev.tally.store.SegmentInfo;
import dev.tally.store.StoreConfig;
import dev.tally.store.Totals;
import dev.tally.store.UsageEvent;
import dev.tally.store.UsageStore;
import dev.tally.store.ValidEvent;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;

/**
 * The store as the importer and the dead-letter replay of a sharded worker see it: an event of a
 * tenant this worker does not own is refused with {@link RejectReason#TENANT_NOT_OWNED} and a
 * message naming the owner, so journal and spool lines of foreign tenants are dead-lettered (and
 * can be replayed once the map gives the tenant to this worker) instead of being stored on the
 * wrong worker, where another owner could store the same event again. Everything else goes
 * straight to the wrapped store; the refusals are merged into the sink and the result with their
 * original indexes, in the same append, so the import position still moves only past lines
 * that are stored or durably dead-lettered.
 *
 * <p>Thread-safe as the wrapped store is; holds no state of its own besides the immutable map.
 */
public final class OwnedTenantsStore implements UsageStore {
    private final UsageStore store;
    private final ShardMap shards;

    public OwnedTenantsStore(UsageStore store, ShardMap shards) {
        this.store = store;
        this.shards = shards;
    }

    /** {@code store} itself when the worker is not sharded. */
    public static UsageStore wrap(UsageStore store, Optional<ShardMap> shards) {
        return shards.<UsageStore>map(m -> new OwnedTenantsStore(store, m)).orElse(store);
    }

    @Override
    public AppendResult append(List<UsageEvent> events) {
        return append(events, null, RejectionSink.NONE);
    }

    @Override
    public AppendResult append(List<UsageEvent> events, ImportPosition position) {
        return append(events, position, RejectionSink.NONE);
    }

    @Override
    public AppendResult append(List<UsageEvent> events, ImportPosition position, RejectionSink beforeCommit) {
        Split<UsageEvent> split = split(events, e -> e == null ? null : e.tenant(), e -> e == null ? null : e.id());
        if (split.foreign.isEmpty()) {
            return store.append(events, position, beforeCommit);
        }
        return split.merge(store.append(split.owned, position, split.sink(beforeCommit)));
    }

    @Override
    public AppendResult appendValid(List<ValidEvent> events, ImportPosition position, RejectionSink beforeCommit) {
        Split<ValidEvent> split = split(events, v -> v.event().tenant(), ValidEvent::id);
        if (split.foreign.isEmpty()) {
            return store.appendValid(events, position, beforeCommit);
        }
        return split.merge(store.appendValid(split.owned, position, split.sink(beforeCommit)));
    }

    private <T> Split<T> split(List<T> events, Function<T, String> tenantOf, Function<T, String> idOf) {
        Split<T> s = new Split<>();
        for (int i = 0; i < events.size(); i++) {
            T e = events.get(i);
            String tenant = tenantOf.apply(e);
            // An event without a valid tenant is left to the store's own validation and reason.
            Optional<String> refusal = tenant == null || !dev.tally.store.EventRules.isTenant(tenant)
                    ? Optional.empty() : shards.refusal(tenant);
            if (refusal.isPresent()) {
                s.foreign.add(new Rejection(i, idOf.apply(e), RejectReason.TENANT_NOT_OWNED, refusal.get()));
            } else {
                s.owned.add(e);
                s.originalIndex.add(i);
            }
        }
        return s;
    }

    /** One batch split into the owned events (with their original indexes) and the refusals of the others. */
    private static final class Split<T> {
        final List<T> owned = new ArrayList<>();
        final List<Integer> originalIndex = new ArrayList<>();
        final List<Rejection> foreign = new ArrayList<>();

        /** The wrapped store's refusals, re-indexed into the whole batch, plus the foreign ones, in batch order. */
        List<Rejection> all(List<Rejection> ofOwned) {
            List<Rejection> out = new ArrayList<>(foreign);
            for (Rejection r : ofOwned) {
                out.add(new Rejection(originalIndex.get(r.index()), r.id(), r.reason(), r.message()));
            }
            out.sort(Comparator.comparingInt(Rejection::index));
            return out;
        }

        RejectionSink sink(RejectionSink outer) {
            return rejected -> outer.accept(all(rejected));
        }

        AppendResult merge(AppendResult r) {
            return new AppendResult(r.accepted(), r.duplicates(), all(r.rejected()));
        }
    }

    /**
     * Refuses a correction of a tenant this worker does not own with
     * {@link dev.tally.store.correct.CorrectionRefusedException} ({@link RejectReason#TENANT_NOT_OWNED},
     * naming the owner), so the importer dead-letters a journaled one; the rest goes to the store.
     */
    @Override
    public dev.tally.store.correct.CorrectionResult correct(dev.tally.store.correct.Correction correction) {
        checkOwned(correction);
        return store.correct(correction);
    }

    @Override
    public dev.tally.store.correct.CorrectionResult correctOnce(dev.tally.store.correct.Correction correction) {
        checkOwned(correction);
        return store.correctOnce(correction);
    }

    private void checkOwned(dev.tally.store.correct.Correction correction) {
        String tenant = correction.tenant();
        Optional<String> refusal = tenant == null || !dev.tally.store.EventRules.isTenant(tenant)
                ? Optional.empty() : shards.refusal(tenant);
        if (refusal.isPresent()) {
            throw new dev.tally.store.correct.CorrectionRefusedException(RejectReason.TENANT_NOT_OWNED, "correction '"
                    + correction.correctionId() + "': " + refusal.get());
        }
    }

    // ---------------------------------------------------------------- everything else: the wrapped store

    @Override
    public List<dev.tally.store.correct.CorrectionRecord> corrections(String tenant) {
        return store.corrections(tenant);
    }

    @Override
    public Map<String, ImportPosition> importPositions() {
        return store.importPositions();
    }

    @Override
    public int forgetImportPositions(Collection<String> sources) {
        return store.forgetImportPositions(sources);
    }

    @Override
    public Totals total(String tenant, String type, String subject, String valuePath, Instant from, Instant to) {
        return store.total(tenant, type, subject, valuePath, from, to);
    }

    @Override
    public void sealNow() {
        store.sealNow();
    }

    @Override
    public RetentionReport maintain() {
        return store.maintain();
    }

    @Override
    public CompactionReport compact(boolean allClosedDays) {
        return store.compact(allClosedDays);
    }

    @Override
    public RetentionReport retention(boolean dryRun) {
        return store.retention(dryRun);
    }

    @Override
    public List<SegmentInfo> segments() {
        return store.segments();
    }

    @Override
    public StoreConfig config() {
        return store.config();
    }

    /** Does not close the wrapped store: its owner does. */
    @Override
    public void close() {
    }
}
