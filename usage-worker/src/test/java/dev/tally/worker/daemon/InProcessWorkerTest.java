package dev.tally.worker.daemon;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tally.worker.config.ConfigLoader;
import dev.tally.worker.config.WorkerConfig;
import dev.tally.worker.testing.Http;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;

/**
 * The shared set-up of the HTTP API tests: a real worker (store, journal, loops) in this JVM on a
 * temporary data directory, its API on a free loopback port, stopped after each test.
 */
abstract class InProcessWorkerTest {
    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;
    Worker worker;
    Http http;
    final Instant now = Instant.now().truncatedTo(ChronoUnit.SECONDS);

    /** Opens and starts the worker with these settings (key, value, key, value, ...) over the test defaults. */
    void start(String... settings) {
        Map<String, String> flags = new LinkedHashMap<>();
        flags.put("data-dir", tmp.resolve("data").toString());
        flags.put("http.port", "0");
        flags.put("import.interval", "100ms");
        for (int i = 0; i < settings.length; i += 2) {
            flags.put(settings[i], settings[i + 1]);
        }
        WorkerConfig config = ConfigLoader.load(null, Map.of(), flags);
        worker = Worker.open(config, Clock.systemUTC());
        worker.start();
        http = new Http("127.0.0.1", worker.httpPort().orElseThrow());
    }

    @AfterEach
    void stop() {
        if (worker != null) {
            worker.shutdown(Duration.ofSeconds(20));
        }
    }
}
