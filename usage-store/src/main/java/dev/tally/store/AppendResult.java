package dev.tally.store;

import java.util.List;

/**
 * What an append did with each event of a batch. Every event is counted exactly once:
 * {@code accepted + duplicates + rejected.size() == batch size}.
 *
 * @param accepted   events stored now
 * @param duplicates events whose {@code (tenant, id)} was already stored (or appeared earlier in
 *                   the same batch); not stored again
 * @param rejected   events refused by validation, with their positions and reasons
 */
public record AppendResult(int accepted, int duplicates, List<Rejection> rejected) {
    public AppendResult {
        rejected = List.copyOf(rejected);
    }

    public static AppendResult empty() {
        return new AppendResult(0, 0, List.of());
    }

    public int total() {
        return accepted + duplicates + rejected.size();
    }
}
