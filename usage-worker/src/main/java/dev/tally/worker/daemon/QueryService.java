package dev.tally.worker.daemon;

import dev.tally.store.UsageStore;
import dev.tally.worker.config.WorkerConfig;
import dev.tally.worker.http.ApiBackend;
import dev.tally.worker.http.ApiException;
import java.time.Clock;
import java.util.List;
import java.util.Map;

/** Placeholder until meters land. */
final class QueryService implements AutoCloseable {
    QueryService(UsageStore store, WorkerConfig config, Clock clock) {
    }

    ApiBackend.Answer meterQuery(String meter, Map<String, List<String>> params) {
        throw new ApiException(501, "not_available", "not available");
    }

    ApiBackend.Answer sql(String statement, String tenant, String from, String to, String format) {
        throw new ApiException(501, "not_available", "not available");
    }

    @Override
    public void close() {
    }
}
