package dev.tally.worker.daemon;

import dev.tally.store.RejectReason;
import dev.tally.store.Rejection;
import dev.tally.store.SegmentInfo;
import dev.tally.store.StoreException;
import dev.tally.store.UsageStore;
import dev.tally.store.ValidEvent;
import dev.tally.store.dlq.DeadLetter;
import dev.tally.store.dlq.DeadLetterQueue;
import dev.tally.store.ingest.Importer;
import dev.tally.store.journal.Journal;
import dev.tally.store.metrics.TallyMetrics;
import dev.tally.worker.config.CatalogConfig;
import dev.tally.worker.config.ConfigException;
import dev.tally.worker.config.Setting;
import dev.tally.worker.config.Values;
import dev.tally.worker.config.WorkerConfig;
import dev.tally.worker.http.ApiBackend;
import dev.tally.worker.http.ApiException;
import dev.tally.worker.http.HttpApi;
import dev.tally.worker.http.HttpServerSettings;
import dev.tally.worker.http.TokenAuth;
import dev.tally.worker.shard.OwnedTenantsStore;
import dev.tally.worker.shard.TenantGuard;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.net.BindException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The daemon: one store, its journal and dead-letter queue, the import loop and the maintenance
 * loop on their own threads, and the HTTP API, over one data directory.
 *
 * <ul>
 *   <li><b>Import loop</b>: moves journal records and spool lines into the store
 *       ({@link Importer#runOnce()}); runs again at once while there is work, else every
 *       {@code import.interval}; woken early when the API accepted events.</li>
 *   <li><b>Maintenance loop</b>: every {@code maintenance.interval}, rolls an aged active segment,
 *       seals, applies retention ({@link UsageStore#maintain()}), rotates the journal when due and
 *       deletes journal archives that are fully imported.</li>
 * </ul>
 *
 * A failing pass is logged and retried with backoff; a failure after which the data on disk
 * cannot be trusted (an {@link Error}, a failed fsync of the journal or the dead-letter queue) is
 * fatal: {@link #awaitStopOrFatal()} returns it and the process exits with code 5.
 *
 * <p>Thread-safe.
 */
public final class Worker implements ApiBackend, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Worker.class);

    /** Where the worker is in its life. */
    public enum State { CREATED, RUNNING, STOPPING, STOPPED }

    private final WorkerConfig config;
    private final Clock clock;
    private final UsageStore store;
    private final Journal journal;
    private final DeadLetterQueue deadLetters;
    private final Importer importer;
    private final IngestService ingest;
    private final QueryService queries;
    private final WorkerMetrics metrics;
    private final TenantGuard tenants;
    private final Loop importLoop;
    private final Loop maintenanceLoop;
    /** Null when {@code catalog.uri} is off. */
    private final CatalogMaintenance catalog;
    private final Instant startedAt;
    private final CountDownLatch stopRequested = new CountDownLatch(1);
    private final AtomicReference<Throwable> fatal = new AtomicReference<>();
    private final Object lifecycle = new Object();
    private volatile HttpApi http;
    private volatile State state = State.CREATED;
    private volatile String stopReason = "";

    private Worker(WorkerConfig config, Clock clock, UsageStore store, Journal journal, DeadLetterQueue deadLetters,
            Importer importer) {
        this.config = config;
        this.clock = clock;
        this.store = store;
        this.journal = journal;
        this.deadLetters = deadLetters;
        this.importer = importer;
        this.startedAt = clock.instant();
        this.catalog = CatalogConfig.settings(config).map(c -> new CatalogMaintenance(config.dataDir(), c,
                config.duration(Setting.CATALOG_EXPIRE_INTERVAL), clock)).orElse(null);
        this.tenants = TenantGuard.of(config.shards());
        Duration maxBackoff = config.duration(Setting.LOOP_MAX_BACKOFF);
        this.importLoop = new Loop("import", config.duration(Setting.IMPORT_INTERVAL), maxBackoff,
                () -> importer.runOnce(() -> state != State.RUNNING).didWork(), this::isFatal, this::fatal, clock);
        this.maintenanceLoop = new Loop("maintenance", config.duration(Setting.MAINTENANCE_INTERVAL), maxBackoff,
                this::maintenancePass, this::isFatal, this::fatal, clock);
        this.ingest = new IngestService(journal, store.config(), clock, importLoop::kick, this::checkFatal);
        this.queries = new QueryService(store, config, clock);
        this.metrics = new WorkerMetrics(TallyMetrics.builder(store).journal(journal).importer(importer)
                .deadLetters(deadLetters).build(), ingest, () -> List.of(importLoop.health(), maintenanceLoop.health()),
                () -> notReadyReasons().isEmpty(), startedAt.toEpochMilli() / 1000.0);
    }

    /**
     * Opens the store (taking its single-writer lock), the journal (recovering a torn tail) and the
     * dead-letter queue. Nothing runs until {@link #start()}.
     *
     * @throws StoreException when the store is locked by another worker or cannot be opened
     */
    public static Worker open(WorkerConfig config, Clock clock) {
        UsageStore store = StoreOpener.openWritable(config, clock, "run");
        Journal journal = null;
        try {
            journal = Journal.open(config.journalConfig(clock));
            DeadLetterQueue dlq = DeadLetterQueue.open(config.dataDir(), false, config.count(Setting.DLQ_MAX_ATTEMPTS));
            // A sharded worker dead-letters journal and spool lines of tenants it does not own.
            Importer importer = new Importer(OwnedTenantsStore.wrap(store, config.shards()), config.dataDir(), config.paths(Setting.SPOOL_DIRS),
                    config.count(Setting.IMPORT_BATCH_SIZE), (int) config.size(Setting.IMPORT_MAX_LINE_BYTES), dlq,
                    clock);
            return new Worker(config, clock, store, journal, dlq, importer);
        } catch (RuntimeException e) {
            if (journal != null) {
                journal.close();
            }
            store.close();
            throw e;
        }
    }

    /**
     * Starts, unless {@code http.port} is -1, the HTTP API, then both loops.
     *
     * @throws ConfigException when the HTTP address cannot be bound or the tokens file is bad;
     *                         everything started is stopped again
     */
    public void start() {
        synchronized (lifecycle) {
            if (state != State.CREATED) {
                throw new IllegalStateException("worker already started");
            }
            state = State.RUNNING;
        }
        // The API first: accepted events go to the journal, which needs neither loop, so a start
        // serves as soon as the store is open. Started first, the loops' first passes (a journal
        // backlog left by a crash, a seal) would compete with the listener's start for the CPU.
        int port = config.port(Setting.HTTP_PORT);
        if (port >= 0) {
            Path tokens = config.path(Setting.HTTP_TOKENS_FILE);
            String host = config.string(Setting.HTTP_HOST);
            try {
                TokenAuth auth = tokens == null ? null : TokenAuth.load(tokens);
                HttpServerSettings settings = httpSettings(host, port);
                http = HttpApi.start(this, settings, auth);
                log.info("HTTP API listening on {}://{}:{} ({}){}", settings.tls() ? "https" : "http", host, http.port(),
                        auth == null ? "no auth" : "bearer tokens for " + auth.size() + " token(s)",
                        isLoopback(host) ? "" : "; reachable from other machines");
            } catch (IOException | RuntimeException e) {
                shutdown(Duration.ofSeconds(10));
                if (e instanceof ConfigException ce) {
                    throw ce;
                }
                String why = e instanceof BindException ? "the address is in use or not available" : e.toString();
                throw new ConfigException("http.host = " + host + ", http.port = " + port + ": cannot listen there: "
                        + why + " (" + e.getMessage() + "); choose another http.port, 0 for any free port, or -1 "
                        + "to run without the API");
            }
        }
        importLoop.start();
        maintenanceLoop.start();
        HttpApi h = http;
        String host = config.string(Setting.HTTP_HOST);
        String local = host.equals("0.0.0.0") || host.equals("::") ? "127.0.0.1" : host;
        try {
            String scheme = config.path(Setting.HTTP_TLS_KEYSTORE) == null ? "http://" : "https://";
            RuntimeFile.write(config.dataDir(), h == null ? null : scheme + (local.contains(":") ? "[" + local + "]"
                    : local) + ":" + h.port(), startedAt);
        } catch (IOException e) {
            log.warn("cannot write {}: commands next to this worker will not find its API: {}",
                    config.dataDir().resolve(RuntimeFile.NAME), e.toString());
        }
        log.info("worker running on {}: import every {}, maintenance every {}, journal fsync {}", config.dataDir(),
                Values.format(config.duration(Setting.IMPORT_INTERVAL)),
                Values.format(config.duration(Setting.MAINTENANCE_INTERVAL)), config.journalFsync());
    }

    /** The transport's settings from the {@code http.*} keys; reads the key store's password file. */
    private HttpServerSettings httpSettings(String host, int port) throws IOException {
        HttpServerSettings.Builder b = HttpServerSettings.builder().host(host).port(port)
                .threads(config.count(Setting.HTTP_THREADS))
                .maxRequestBytes(config.size(Setting.HTTP_MAX_REQUEST_BYTES))
                .maxHeaderBytes(config.size(Setting.HTTP_MAX_HEADER_BYTES))
                .maxConnections(config.count(Setting.HTTP_MAX_CONNECTIONS))
                .headerTimeout(config.duration(Setting.HTTP_HEADER_TIMEOUT))
                .idleTimeout(config.duration(Setting.HTTP_IDLE_TIMEOUT))
                .requestTimeout(config.duration(Setting.HTTP_REQUEST_TIMEOUT));
        Path keyStore = config.path(Setting.HTTP_TLS_KEYSTORE);
        if (keyStore != null) {
            Path passwordFile = config.path(Setting.HTTP_TLS_KEYSTORE_PASSWORD_FILE);
            String password;
            try {
                password = Files.readAllLines(passwordFile, StandardCharsets.UTF_8).stream().findFirst().orElse("");
            } catch (IOException e) {
                throw new ConfigException("http.tls.keystore-password-file = " + passwordFile + ": cannot read it ("
                        + e + ")");
            }
            if (!Files.isReadable(keyStore)) {
                throw new ConfigException("http.tls.keystore = " + keyStore + ": no readable file there");
            }
            b.keyStore(keyStore, password);
        }
        return b.build();
    }

    private static boolean isLoopback(String host) {
        return host.equals("127.0.0.1") || host.equals("localhost") || host.equals("::1");
    }

    /** The HTTP API's port, when it runs. */
    public Optional<Integer> httpPort() {
        HttpApi h = http;
        return h == null ? Optional.empty() : Optional.of(h.port());
    }

    /** The HTTP API's host, as configured. */
    public String httpHost() {
        return config.string(Setting.HTTP_HOST);
    }

    public State state() {
        return state;
    }

    public UsageStore store() {
        return store;
    }

    /** Asks the worker to stop; {@link #awaitStopOrFatal()} returns. Safe from a signal handler. */
    public void requestStop(String reason) {
        if (stopRequested.getCount() > 0) {
            stopReason = reason;
            log.info("stop requested ({}): finishing the current batch, then closing the store", reason);
        } else {
            log.info("stop already requested; {} ignored (a graceful stop takes at most shutdown.timeout = {})",
                    reason, Values.format(config.duration(Setting.SHUTDOWN_TIMEOUT)));
        }
        stopRequested.countDown();
    }

    /** Blocks until a stop is requested or a fatal error happens; returns the fatal error, or null. */
    public Throwable awaitStopOrFatal() throws InterruptedException {
        stopRequested.await();
        return fatal.get();
    }

    /**
     * Stops gracefully: stops intake (the API answers 503 and closes once requests in progress are
     * done), lets each loop finish its current pass, closes the journal and then the store (which
     * checkpoints it and releases its lock). Returns false when this did not finish within
     * {@code timeout} (the store is then left to recovery on the next start).
     */
    public boolean shutdown(Duration timeout) {
        synchronized (lifecycle) {
            if (state == State.STOPPING || state == State.STOPPED) {
                return true;
            }
            state = State.STOPPING;
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        HttpApi h = http;
        if (h != null) {
            h.stop(min(Duration.ofSeconds(5), timeout.dividedBy(2)));
        }
        importLoop.stop();
        maintenanceLoop.stop();
        try {
            boolean importDone = importLoop.await(left(deadline));
            boolean maintenanceDone = maintenanceLoop.await(left(deadline));
            if (!importDone || !maintenanceDone) {
                for (Loop l : List.of(importLoop, maintenanceLoop)) {
                    String where = l.where();
                    if (!where.isEmpty()) {
                        log.error("the {} loop is still in its pass at the stop deadline:{}", l.name(), where);
                    }
                }
                log.error("a loop did not finish its pass within shutdown.timeout = {}; leaving the store to "
                        + "recovery on the next start", timeout);
                return false;
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
        try {
            journal.close();
        } catch (RuntimeException e) {
            log.error("closing the journal failed: {}", e.getMessage(), e);
        }
        RuntimeFile.delete(config.dataDir());
        queries.close();
        metrics.close();
        if (catalog != null) {
            catalog.close();
        }
        store.close();
        state = State.STOPPED;
        log.info("stopped{}; store closed and unlocked", stopReason.isEmpty() ? "" : " (" + stopReason + ")");
        return true;
    }

    @Override
    public void close() {
        shutdown(config.duration(Setting.SHUTDOWN_TIMEOUT));
    }

    private static Duration left(long deadline) {
        return Duration.ofNanos(Math.max(1_000_000, deadline - System.nanoTime()));
    }

    private static Duration min(Duration a, Duration b) {
        return a.compareTo(b) <= 0 ? a : b;
    }

    // ---------------------------------------------------------------- loops and failures

    private boolean maintenancePass() {
        store.maintain();
        journal.rotateIfDue();
        importer.reap(journal);
        if (catalog != null) {
            catalog.pass();
        }
        return false;
    }

    /** Whether {@code t} leaves the worker unable to go on safely. */
    boolean isFatal(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c instanceof Error) {
                return true;
            }
        }
        return journal.failure().isPresent() || deadLetters.failed();
    }

    private void checkFatal(RuntimeException e) {
        if (isFatal(e)) {
            fatal(e);
        }
    }

    private void fatal(Throwable t) {
        if (fatal.compareAndSet(null, t)) {
            String what = journal.failure().isPresent() ? "the journal's fsync failed"
                    : deadLetters.failed() ? "the dead-letter queue's fsync failed" : "an unrecoverable error";
            log.error("FATAL: {}; the worker stops now and exits with code 5. Data acknowledged before this is safe; "
                    + "check the disk, then start the worker again: {}", what, Loop.describe(t), t);
            stopReason = "fatal error";
            stopRequested.countDown();
        }
    }

    /** The fatal error, if one happened. */
    public Optional<Throwable> fatalError() {
        return Optional.ofNullable(fatal.get());
    }

    public LoopHealth importHealth() {
        return importLoop.health();
    }

    public LoopHealth maintenanceHealth() {
        return maintenanceLoop.health();
    }

    // ---------------------------------------------------------------- ApiBackend

    @Override
    public IngestResult ingest(List<ValidEvent> events, List<Rejection> rejected) {
        if (state != State.RUNNING) {
            throw new ApiException(503, "shutting_down", "the worker is " + state.name().toLowerCase(java.util.Locale.ROOT)
                    + "; nothing of this request was stored");
        }
        tenants.checkEvents(events);
        return ingest.ingest(events, rejected);
    }

    @Override
    public List<String> notReadyReasons() {
        List<String> reasons = new ArrayList<>();
        if (state != State.RUNNING) {
            reasons.add("store is " + (state == State.CREATED ? "not open yet" : "closed (worker " + state.name()
                    .toLowerCase(java.util.Locale.ROOT) + ")"));
        }
        fatalError().ifPresent(t -> reasons.add("fatal error: " + Loop.describe(t)));
        journal.failure().ifPresent(t -> reasons.add("journal failed: " + Loop.describe(t)));
        if (deadLetters.failed()) {
            reasons.add("dead-letter queue failed an fsync");
        }
        for (LoopHealth h : List.of(importLoop.health(), maintenanceLoop.health())) {
            if (h.failing()) {
                reasons.add(h.name() + " loop failing (" + h.consecutiveFailures() + " in a row): " + h.lastError());
            } else if (!h.running() && state == State.RUNNING) {
                reasons.add(h.name() + " loop is not running");
            }
        }
        return reasons;
    }

    @Override
    public List<SegmentInfo> segments() {
        return store.segments();
    }

    @Override
    public List<DeadLetter> deadLetters() {
        return deadLetters.list();
    }

    @Override
    public Answer meterQuery(String meter, Map<String, List<String>> params) {
        List<String> tenant = params.get("tenant");
        tenants.checkTenant(tenant == null || tenant.isEmpty() ? null : tenant.get(0));
        return queries.meterQuery(meter, params);
    }

    @Override
    public Answer sql(String statement, String tenant, String from, String to, String format) {
        tenants.checkTenant(tenant);
        return queries.sql(statement, tenant, from, to, format);
    }

    @Override
    public dev.tally.store.correct.CorrectionResult correct(dev.tally.store.correct.Correction correction) {
        tenants.checkTenant(correction.tenant()); // a tenant's corrections go to its owner, like its events
        return store.correct(correction);
    }

    @Override
    public void journalCorrection(dev.tally.store.correct.Correction correction) {
        if (state != State.RUNNING) {
            throw new ApiException(503, "shutting_down", "the worker is " + state.name().toLowerCase(java.util.Locale.ROOT)
                    + "; nothing was journaled");
        }
        tenants.checkTenant(correction.tenant());
        ingest.journalCorrection(correction);
    }

    @Override
    public List<dev.tally.store.correct.CorrectionRecord> corrections(String tenant) {
        tenants.checkTenant(tenant);
        return store.corrections(tenant);
    }

    @Override
    public PrometheusMeterRegistry metrics() {
        return metrics.registry();
    }

}
