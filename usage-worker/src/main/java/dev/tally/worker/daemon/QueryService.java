package dev.tally.worker.daemon;

import dev.tally.store.UsageStore;
import dev.tally.store.meter.MeterResult;
import dev.tally.store.sql.SqlResult;
import dev.tally.worker.config.WorkerConfig;
import dev.tally.worker.http.ApiBackend;
import dev.tally.worker.query.MeterResultFormat;
import dev.tally.worker.query.QueryEngine;
import dev.tally.worker.query.QueryErrors;
import dev.tally.worker.query.QueryParams;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Meter queries and sandboxed SQL for the HTTP API, with failures mapped to API errors. */
final class QueryService implements AutoCloseable {
    private final QueryEngine engine;
    private final Clock clock;

    QueryService(UsageStore store, WorkerConfig config, Clock clock) {
        this.engine = new QueryEngine(store, config);
        this.clock = clock;
    }

    ApiBackend.Answer meterQuery(String meter, Map<String, List<String>> params) {
        try {
            Map<String, List<String>> p = new LinkedHashMap<>(params);
            List<String> f = p.remove("format");
            QueryParams.Format format = QueryParams.format(f == null || f.isEmpty() ? null : f.get(0),
                    QueryParams.Format.JSON);
            MeterResult r = engine.query(meter, p, clock.instant());
            return new ApiBackend.Answer(QueryErrors.contentType(format),
                    MeterResultFormat.render(r, format).getBytes(StandardCharsets.UTF_8));
        } catch (RuntimeException e) {
            throw QueryErrors.api(e);
        }
    }

    ApiBackend.Answer sql(String statement, String tenant, String from, String to, String format) {
        try {
            QueryParams.Format f = QueryParams.format(format, QueryParams.Format.JSON);
            Instant a = from == null ? null : QueryParams.time("from", from, ZoneOffset.UTC);
            Instant b = to == null ? null : QueryParams.time("to", to, ZoneOffset.UTC);
            SqlResult r = engine.sql(tenant, statement, a, b);
            String text = r.render(QueryEngine.outputFormat(f));
            return new ApiBackend.Answer(QueryErrors.contentType(f), text.getBytes(StandardCharsets.UTF_8));
        } catch (RuntimeException e) {
            throw QueryErrors.api(e);
        }
    }

    @Override
    public void close() {
        engine.close();
    }
}
