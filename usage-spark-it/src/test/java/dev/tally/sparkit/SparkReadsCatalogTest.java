package dev.tally.sparkit;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tally.catalog.CatalogSettings;
import dev.tally.catalog.CatalogSync;
import dev.tally.catalog.TallyTable;
import dev.tally.store.EventCodec;
import dev.tally.store.UsageEvent;
import dev.tally.store.testing.MutableClock;
import dev.tally.worker.config.ConfigLoader;
import dev.tally.worker.daemon.Worker;
import java.math.BigDecimal;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Three sharded workers (disjoint tenants, each its own data directory) ingest concurrently, seal
 * and run retention, each registering its parts in one shared Iceberg catalog (SQLite) with one
 * shared warehouse folder; then Spark in local mode, with the Iceberg runtime, reads both tables,
 * and its per-tenant, per-day counts and exact token sums must equal Tally's meter answers.
 */
@Tag("spark")
class SparkReadsCatalogTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    /** Worker id to its tenants. */
    static final Map<String, List<String>> TENANTS = Map.of(
            "w1", List.of("acme", "initech"),
            "w2", List.of("globex"),
            "w3", List.of("umbrella", "hooli"));
    static final int EVENTS_PER_TENANT = 3_000;

    @TempDir
    Path tmp;
    final Instant start = Instant.now().truncatedTo(ChronoUnit.SECONDS);
    final MutableClock clock = new MutableClock(start);
    final Map<String, Worker> workers = new TreeMap<>();
    final Map<String, String> urls = new TreeMap<>();
    SparkSession spark;
    String catalogUri;
    Path warehouse;

    @AfterEach
    void stopAll() throws Exception {
        if (spark != null) {
            spark.stop();
        }
        for (Worker w : workers.values()) {
            w.shutdown(Duration.ofSeconds(30));
        }
    }

    /** Spark's per-tenant, per-day counts and token sums over the catalog's tables equal each owner's meters, after concurrent ingest, seal and retention. */
    @Test
    void sparkRead_threeShardedWorkers_equalsMeters() throws Exception {
        Path shared = Files.createDirectories(tmp.resolve("shared"));
        Path map = shared.resolve("shards.properties");
        StringBuilder mapText = new StringBuilder();
        Map<String, Integer> ports = new TreeMap<>();
        for (String id : TENANTS.keySet()) {
            ports.put(id, freePort());
            urls.put(id, "http://127.0.0.1:" + ports.get(id));
            mapText.append("worker.").append(id).append(" = ").append(urls.get(id)).append('\n');
            for (String t : TENANTS.get(id)) {
                mapText.append("tenant.").append(t).append(" = ").append(id).append('\n');
            }
        }
        Files.writeString(map, mapText);
        // Three workers and Spark share one SQLite file; the writers take turns on catalog.lock beside it.
        catalogUri = "jdbc:sqlite:" + shared.resolve("catalog.db");
        warehouse = shared.resolve("warehouse");
        for (String id : TENANTS.keySet()) {
            Path data = dataDir(id);
            Map<String, String> flags = new LinkedHashMap<>();
            flags.put("data-dir", data.toString());
            flags.put("http.port", Integer.toString(ports.get(id)));
            flags.put("import.interval", "100ms");
            flags.put("shard.id", id);
            flags.put("shard.map-file", map.toString());
            // Short detail retention, so a retention pass two days on removes parts from the catalog too.
            flags.put("retention.detail", "3d");
            flags.put("events.max-age", "3d");
            // The test syncs each worker itself right after each pass, so it can check the result then.
            flags.put("catalog.uri", "off");
            Worker w = Worker.open(ConfigLoader.load(null, Map.of(), flags), clock);
            workers.put(id, w);
            w.start();
        }

        // 1. Producers post concurrently, each to the owner of its tenant, with some retries (duplicates).
        ExecutorService pool = Executors.newFixedThreadPool(6);
        List<Callable<Void>> producers = new ArrayList<>();
        TENANTS.forEach((id, tenants) -> tenants.forEach(t -> producers.add(() -> {
            produce(urls.get(id), t);
            return null;
        })));
        all(pool, producers);
        for (String id : TENANTS.keySet()) {
            for (String t : TENANTS.get(id)) {
                await().atMost(Duration.ofSeconds(120)).until(() -> meterEvents(urls.get(id), t) == EVENTS_PER_TENANT);
            }
        }

        // 2. Every worker seals at the same time and registers its parts in the shared catalog.
        all(pool, TENANTS.keySet().stream().<Callable<Void>>map(id -> () -> {
            workers.get(id).store().sealNow();
            sync(id);
            return null;
        }).toList());

        // 3. Two days on, retention drops the oldest detail; the removal reaches the catalog the same way.
        clock.advance(Duration.ofDays(2));
        all(pool, TENANTS.keySet().stream().<Callable<Void>>map(id -> () -> {
            workers.get(id).store().maintain();
            sync(id);
            return null;
        }).toList());
        pool.shutdown();

        // 4. Spark reads the catalog and must agree with the meters, to the token.
        spark = SparkSession.builder().master("local[2]").appName("tally-spark-it")
                .config("spark.ui.enabled", "false")
                .config("spark.driver.host", "127.0.0.1")
                .config("spark.driver.bindAddress", "127.0.0.1")
                .config("spark.sql.shuffle.partitions", "2")
                .config("spark.sql.session.timeZone", "UTC")
                .config("spark.sql.catalog.tally", "org.apache.iceberg.spark.SparkCatalog")
                .config("spark.sql.catalog.tally.type", "jdbc")
                .config("spark.sql.catalog.tally.uri", catalogUri)
                .config("spark.sql.catalog.tally.jdbc.schema-version", "V1")
                .config("spark.sql.catalog.tally.warehouse", warehouse.toUri().toString())
                .getOrCreate();
        Map<String, Day> rollups = days(spark.sql("""
                SELECT tenant, CAST(hour AS DATE) AS day,
                       CAST(sum(CASE WHEN property IS NULL THEN value_count END) AS BIGINT) AS events,
                       sum(CASE WHEN property = 'input_tokens' THEN value_sum END) AS input_tokens
                FROM tally.tally.usage_rollups_hourly WHERE type = 'llm.request'
                GROUP BY 1, 2""").collectAsList());
        Map<String, Day> detail = days(spark.sql("""
                SELECT tenant, CAST(time AS DATE) AS day, count(*) AS events,
                       sum(CAST(get_json_object(data, '$.input_tokens') AS DECIMAL(38,9))) AS input_tokens
                FROM tally.tally.usage_events WHERE type = 'llm.request'
                GROUP BY 1, 2""").collectAsList());

        Map<String, Day> meters = new TreeMap<>();
        TENANTS.forEach((id, tenants) -> tenants.forEach(t -> meters.putAll(meterDays(urls.get(id), t))));
        System.out.printf("Spark read %d tenant-days from usage_rollups_hourly and %d from usage_events; meters: %d%n",
                rollups.size(), detail.size(), meters.size());
        assertEquals(meters, rollups, "rollup table per tenant and day vs the meters");
        assertFalse(detail.isEmpty());
        assertTrue(detail.size() < meters.size(), "retention removed the oldest detail from the catalog: " + detail);
        detail.forEach((k, d) -> assertEquals(meters.get(k), d, "detail table vs the meters for " + k));
        long total = meters.values().stream().mapToLong(Day::events).sum();
        assertEquals((long) EVENTS_PER_TENANT * 5, total, "every event counted once across the three workers");
    }

    /**
     * One sync of a worker's parts into the shared catalog, with a catalog client of its own; the
     * three workers call it at the same time, and their commits take turns on the SQLite file's
     * lock (see docs/scale-out.md).
     */
    private void sync(String id) throws Exception {
        try (CatalogSync s = CatalogSync.open(dataDir(id), catalogSettings(id))) {
            s.sync();
            s.check().forEach(c -> assertTrue(c.consistent(), id + ": " + c));
        }
    }

    private Path dataDir(String id) {
        return tmp.resolve("data-" + id);
    }

    /** One catalog database and one warehouse folder for all three workers. */
    private CatalogSettings catalogSettings(String id) {
        return CatalogSettings.defaults(dataDir(id)).withUri(catalogUri, null, null).withWarehouse(warehouse);
    }

    /** One tenant and day: events and exact input tokens. */
    record Day(long events, BigDecimal inputTokens) {
        Day {
            inputTokens = inputTokens.stripTrailingZeros();
        }
    }

    private static Map<String, Day> days(List<Row> rows) {
        Map<String, Day> out = new TreeMap<>();
        for (Row r : rows) {
            out.put(r.getString(0) + " " + r.getDate(1).toLocalDate(), new Day(r.getLong(2), r.getDecimal(3)));
        }
        return out;
    }

    /** Events spread over the last 60 hours, each posted once, a tenth of them posted again (a retry). */
    private void produce(String url, String tenant) throws Exception {
        Random random = new Random(tenant.hashCode());
        List<String> batch = new ArrayList<>();
        for (int i = 0; i < EVENTS_PER_TENANT; i++) {
            Instant time = start.minusSeconds(60 + random.nextInt(60 * 3600));
            String json = EventCodec.toJson(new UsageEvent(tenant, "req-" + i, "llm.request", "key-" + (i % 7),
                    "gateway", time, "{\"model\":\"atlas-mini\",\"input_tokens\":" + (1 + random.nextInt(5000))
                            + ",\"output_tokens\":" + random.nextInt(900) + "}"));
            batch.add(json);
            if (i % 10 == 0) {
                batch.add(json);
            }
            if (batch.size() >= 500 || i == EVENTS_PER_TENANT - 1) {
                HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create(url + "/v1/events"))
                        .header("Content-Type", "application/json").timeout(Duration.ofSeconds(60))
                        .POST(HttpRequest.BodyPublishers.ofString("[" + String.join(",", batch) + "]")).build(),
                        HttpResponse.BodyHandlers.ofString());
                assertEquals(202, r.statusCode(), r.body());
                batch.clear();
            }
        }
    }

    private JsonNode meter(String url, String meter, String tenant, String window) throws Exception {
        // Whole UTC days: where retention removed the detail, the meters answer from hourly rollups,
        // which need range bounds on whole hours.
        Instant day = clock.instant().truncatedTo(ChronoUnit.DAYS);
        String q = url + "/v1/meters/" + meter + "/query?tenant=" + tenant + "&sum-subjects=true&tz=UTC&window="
                + window + "&from=" + day.minus(Duration.ofDays(10)) + "&to=" + day.plus(Duration.ofDays(1));
        HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create(q)).timeout(Duration.ofSeconds(60))
                .build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode(), r.body());
        return JSON.readTree(r.body());
    }

    private long meterEvents(String url, String tenant) throws Exception {
        JsonNode rows = meter(url, "requests", tenant, "none").get("rows");
        return rows.isEmpty() ? 0 : rows.get(0).get("events").asLong();
    }

    /** The requests and input_tokens meters of one tenant per UTC day, from its owner. */
    private Map<String, Day> meterDays(String url, String tenant) {
        try {
            Map<String, Long> counts = new TreeMap<>();
            for (JsonNode row : meter(url, "requests", tenant, "day").get("rows")) {
                counts.put(day(row), row.get("value").asLong());
            }
            Map<String, Day> out = new TreeMap<>();
            for (JsonNode row : meter(url, "input_tokens", tenant, "day").get("rows")) {
                String day = day(row);
                out.put(tenant + " " + day, new Day(counts.get(day), new BigDecimal(row.get("value").asText())));
            }
            assertEquals(counts.keySet(), new java.util.TreeSet<>(out.keySet().stream()
                    .map(k -> k.substring(tenant.length() + 1)).toList()));
            return out;
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    private static String day(JsonNode row) {
        // Windows start at a zoned time, e.g. 2026-11-29T00:00Z (tz=UTC).
        return LocalDate.ofInstant(java.time.OffsetDateTime.parse(row.get("window_start").asText()).toInstant(),
                ZoneOffset.UTC).toString();
    }

    private static void all(ExecutorService pool, List<Callable<Void>> tasks) throws Exception {
        List<Future<Void>> futures = new ArrayList<>();
        for (Callable<Void> t : tasks) {
            futures.add(pool.submit(t));
        }
        for (Future<Void> f : futures) {
            f.get();
        }
    }

    private static int freePort() throws Exception {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }
}
