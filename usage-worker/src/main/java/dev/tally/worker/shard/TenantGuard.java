package dev.tally.worker.shard;

import dev.tally.worker.config.ShardMap;

import dev.tally.store.ValidEvent;
import dev.tally.worker.http.ApiException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Answers HTTP requests for tenants this worker does not own with {@code 421 Misdirected
 * Request}: {@code {"error": "tenant_not_owned", "message", "tenant", "owner", "owner_url"}}
 * ({@code owner} and {@code owner_url} are null when no worker owns the tenant). An event post
 * with any foreign event is refused whole, so nothing of it is stored and the producer can send
 * the batch, split by owner, again.
 *
 * <p>Thread-safe: immutable.
 */
public final class TenantGuard {
    public static final int MISDIRECTED = 421;
    public static final String CODE = "tenant_not_owned";
    private static final TenantGuard OPEN = new TenantGuard(null);

    private final ShardMap shards;

    private TenantGuard(ShardMap shards) {
        this.shards = shards;
    }

    /** A guard for the map, or one that lets every tenant through when the worker is not sharded. */
    public static TenantGuard of(Optional<ShardMap> shards) {
        return shards.map(TenantGuard::new).orElse(OPEN);
    }

    /**
     * Refuses the request when an event is for a tenant owned elsewhere.
     *
     * @throws ApiException 421 naming the first foreign event's tenant and owner
     */
    public void checkEvents(List<ValidEvent> events) {
        if (shards == null) {
            return;
        }
        for (int i = 0; i < events.size(); i++) {
            ValidEvent e = events.get(i);
            if (e != null && !shards.ownsHere(e.event().tenant())) {
                throw refused(e.event().tenant(), "event " + i + ": ", "; nothing of this request was stored");
            }
        }
    }

    /**
     * Refuses a query for a tenant owned elsewhere; a missing tenant is left to the query's own
     * validation.
     *
     * @throws ApiException 421 naming the owner
     */
    public void checkTenant(String tenant) {
        if (shards != null && tenant != null && !shards.ownsHere(tenant)) {
            throw refused(tenant, "", "");
        }
    }

    private ApiException refused(String tenant, String prefix, String suffix) {
        Optional<ShardMap.Member> owner = shards.owner(tenant);
        Map<String, Object> extra = new LinkedHashMap<>();
        extra.put("tenant", tenant);
        extra.put("owner", owner.map(ShardMap.Member::id).orElse(null));
        extra.put("owner_url", owner.map(ShardMap.Member::url).orElse(null));
        return new ApiException(MISDIRECTED, CODE, prefix + shards.refusal(tenant).orElseThrow() + suffix, extra);
    }
}
