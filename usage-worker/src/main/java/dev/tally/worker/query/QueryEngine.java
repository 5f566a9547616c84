package dev.tally.worker.query;

import dev.tally.store.UsageStore;
import dev.tally.store.meter.InvalidMeterException;
import dev.tally.store.meter.MeterQuery;
import dev.tally.store.meter.MeterRegistry;
import dev.tally.store.meter.MeterResult;
import dev.tally.store.meter.MeterService;
import dev.tally.store.sql.OutputFormat;
import dev.tally.store.sql.SandboxOptions;
import dev.tally.store.sql.SqlResult;
import dev.tally.store.sql.SqlSandbox;
import dev.tally.store.sql.SqlSandboxException;
import dev.tally.worker.config.ConfigException;
import dev.tally.worker.config.Setting;
import dev.tally.worker.config.WorkerConfig;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Semaphore;

/**
 * Meter queries and sandboxed SQL over one store, shared by the command line and the HTTP API.
 * The meters come from {@code meters.file}, or the built-in LLM meters ({@code requests},
 * {@code input_tokens}, {@code output_tokens}, {@code latency_p95}) when it is empty.
 *
 * <p>Thread-safe.
 */
public final class QueryEngine implements AutoCloseable {
    /** The built-in meter definitions, a resource of this module. */
    public static final String DEFAULT_METERS = "/default-meters.json";

    private final UsageStore store;
    private final MeterService meters;
    private final SandboxOptions sandboxOptions;
    private final int maxConcurrentSql;
    /** One permit per SQL statement running (sandbox build included): each holds its own DuckDB instance. */
    private final Semaphore sqlPermits;

    public QueryEngine(UsageStore store, WorkerConfig config) {
        this.store = store;
        this.meters = new MeterService(store, registry(config.path(Setting.METERS_FILE)));
        this.sandboxOptions = SandboxOptions.defaults().withMemoryLimit(config.size(Setting.SQL_MEMORY_LIMIT))
                .withTimeout(config.duration(Setting.SQL_TIMEOUT)).withMaxRows(config.count(Setting.SQL_MAX_ROWS))
                .withMaxResultBytes(config.size(Setting.SQL_MAX_RESULT_BYTES));
        this.maxConcurrentSql = config.count(Setting.SQL_MAX_CONCURRENT);
        this.sqlPermits = new Semaphore(maxConcurrentSql);
    }

    /**
     * The meter registry: the file's meters, or the built-in ones.
     *
     * @throws ConfigException when the file cannot be loaded, naming it and the problem
     */
    public static MeterRegistry registry(Path file) {
        MeterRegistry r = new MeterRegistry();
        try {
            if (file != null) {
                r.load(file);
            } else {
                try (InputStream in = QueryEngine.class.getResourceAsStream(DEFAULT_METERS)) {
                    r.loadJson(new String(in.readAllBytes(), StandardCharsets.UTF_8), "built-in meters");
                }
            }
        } catch (InvalidMeterException e) {
            throw new ConfigException("meters.file = " + file + ": " + e.getMessage());
        } catch (IOException e) {
            throw new IllegalStateException("the built-in meters cannot be read", e);
        }
        return r;
    }

    public MeterRegistry registry() {
        return meters.registry();
    }

    /** Runs a meter query. */
    public MeterResult query(MeterQuery q) {
        return meters.query(q);
    }

    /** Runs a meter query given as parameters (see {@link QueryParams}). */
    public MeterResult query(String meter, Map<String, List<String>> params, Instant now) {
        return meters.query(QueryParams.parse(meter, params, now));
    }

    /**
     * Runs one SELECT in a sandbox holding only {@code tenant}'s events (optionally only those in
     * {@code [from, to)}) and renders the result.
     */
    public SqlResult sql(String tenant, String statement, Instant from, Instant to) {
        SandboxOptions options = sandboxOptions.withRange(from, to);
        if (!sqlPermits.tryAcquire()) {
            throw new SqlSandboxException(SqlSandboxException.Kind.BUSY, maxConcurrentSql + " SQL statement(s) are "
                    + "already running, the limit (sql.max-concurrent = " + maxConcurrentSql + "); nothing ran, "
                    + "retry shortly");
        }
        try (SqlSandbox sandbox = SqlSandbox.open(store, tenant, options)) {
            return sandbox.query(statement);
        } finally {
            sqlPermits.release();
        }
    }

    /** The sandbox limits every statement runs under (without a range). */
    public SandboxOptions sandboxOptions() {
        return sandboxOptions;
    }

    /** The store's output format for a {@link QueryParams.Format}. */
    public static OutputFormat outputFormat(QueryParams.Format f) {
        return switch (f) {
            case TABLE -> OutputFormat.TABLE;
            case CSV -> OutputFormat.CSV;
            case JSON -> OutputFormat.JSON;
        };
    }

    @Override
    public void close() {
        meters.close();
    }
}
