package dev.tally.worker.daemon;

import dev.tally.store.UsageStore;
import dev.tally.worker.config.WorkerConfig;
import dev.tally.worker.http.ApiBackend;
import dev.tally.worker.http.ApiException;
import java.util.List;
import java.util.Map;

/** Meter queries and sandboxed SQL for the API and the command line. */
public final class QueryService {
    private final UsageStore store;
    private final WorkerConfig config;

    public QueryService(UsageStore store, WorkerConfig config) {
        this.store = store;
        this.config = config;
    }

    public Object meterQuery(String meter, String tenant, Map<String, List<String>> params) {
        throw new ApiException(501, "not_available", "meter queries are not available in this build");
    }

    public ApiBackend.SqlAnswer sql(String statement, String format, String tenant) {
        throw new ApiException(501, "not_available", "SQL is not available in this build");
    }
}
