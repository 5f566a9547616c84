package dev.tally.bench.suite;

import dev.tally.store.Totals;
import dev.tally.store.UsageStore;

/** The billing queries through the store's own read API. */
final class StoreQueries implements Billing.Side {
    private final UsageStore store;

    StoreQueries(UsageStore store) {
        this.store = store;
    }

    @Override
    public String unsupported(Billing.Query q) {
        return q == Billing.Query.MONTHLY_TOTAL ? null : "needs the meters API";
    }

    @Override
    public Billing.Answer run(Billing.Query q, Billing.Params p) {
        Totals t = store.total(p.tenant(), "llm.request", p.subject(), "$.input_tokens", p.from(), p.to());
        return new Billing.Answer(t.events() > 0 ? 1 : 0, t.events(), t.sum());
    }
}
