package dev.tally.worker.daemon;

import dev.tally.store.RejectReason;
import dev.tally.store.metrics.TallyMetrics;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.FileDescriptorMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.util.List;
import java.util.function.Supplier;

/**
 * The worker's Micrometer registry, scraped at {@code /metrics}: the library's
 * {@link TallyMetrics}, the worker's own meters (API intake, loops, readiness) and the JVM and
 * process metrics. Names are those of docs/http-api.md.
 *
 * <p>Thread-safe: the registry is; the GC binder is closed once by {@link #close()}.
 */
final class WorkerMetrics implements AutoCloseable {
    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final JvmGcMetrics gc = new JvmGcMetrics();

    /**
     * @param library the store's binder (journal, importer and dead letters included)
     * @param loops   the background loops' health, read at each scrape
     */
    WorkerMetrics(TallyMetrics library, IngestService ingest, Supplier<List<LoopHealth>> loops,
            Supplier<Boolean> ready, double startedAtSeconds) {
        library.bindTo(registry);
        for (RejectReason r : RejectReason.values()) {
            FunctionCounter.builder("tally.events.rejected", ingest, i -> i.rejected(r))
                    .description(TallyMetrics.REJECTED_HELP).tags("stage", "http", "reason", r.code())
                    .register(registry);
        }
        FunctionCounter.builder("tally.http.events.journaled", ingest, IngestService::journaled)
                .description("Events the API made durable in the journal.").register(registry);
        for (int i = 0; i < loops.get().size(); i++) {
            int k = i;
            String name = loops.get().get(i).name();
            Supplier<LoopHealth> h = () -> loops.get().get(k);
            FunctionCounter.builder("tally.loop.passes", h, x -> x.get().passes())
                    .description("Completed passes of a background loop.").tag("loop", name).register(registry);
            FunctionCounter.builder("tally.loop.failures", h, x -> x.get().failures())
                    .description("Failed passes of a background loop (each retried with backoff).").tag("loop", name)
                    .register(registry);
            Gauge.builder("tally.loop.consecutive.failures", h, x -> x.get().consecutiveFailures())
                    .description("Failed passes in a row (0 when the last pass succeeded).").tag("loop", name)
                    .strongReference(true).register(registry);
            Gauge.builder("tally.loop.up", h, x -> x.get().running() ? 1 : 0)
                    .description("1 while a loop's thread runs.").tag("loop", name).strongReference(true)
                    .register(registry);
        }
        Gauge.builder("tally.ready", ready, x -> x.get() ? 1 : 0).description("1 when /readyz would answer 200.")
                .strongReference(true).register(registry);
        Gauge.builder("tally.start.time.seconds", () -> startedAtSeconds)
                .description("When the worker started (Unix time).").strongReference(true).register(registry);
        new JvmMemoryMetrics().bindTo(registry);
        gc.bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new ClassLoaderMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        new UptimeMetrics().bindTo(registry);
        new FileDescriptorMetrics().bindTo(registry);
    }

    PrometheusMeterRegistry registry() {
        return registry;
    }

    @Override
    public void close() {
        gc.close();
        registry.close();
    }
}
