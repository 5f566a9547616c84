package dev.tally.worker.http;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tally.store.EventCodec;
import dev.tally.store.UsageEvent;
import dev.tally.worker.config.ConfigLoader;
import dev.tally.worker.config.WorkerConfig;
import dev.tally.worker.daemon.Worker;
import dev.tally.worker.demo.DemoSpool;
import dev.tally.worker.demo.DemoWorkload;
import dev.tally.worker.testing.Http;
import java.io.File;
import java.io.IOException;
import java.math.BigDecimal;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.openqa.selenium.By;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;

/**
 * The operator console in a real headless Chromium (the Debian {@code chromium} and
 * {@code chromium-driver} packages; {@code .ci/run} installs them) against a real worker on
 * loopback with tokens on, holding a week of the demo's LLM-API usage, a sealed segment and a
 * partner's spool file with broken lines. Checks what the page shows against the JSON API, that a
 * wrong token sees nothing and that a tenant sees none of another's dead letters, and saves a
 * screenshot to {@code target/console.png} (and to {@code -Dtally.console.screenshot=<file>}, which
 * is how docs/img/console.png is made).
 *
 * <p>Without Chromium and its driver the test is skipped with a message saying what to install,
 * unless {@code TALLY_REQUIRE_BROWSER=1} (set by {@code .ci/run}), where it fails instead.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ConsoleBrowserTest {
    static final ObjectMapper JSON = new ObjectMapper().enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
            .enable(DeserializationFeature.USE_BIG_INTEGER_FOR_INTS);
    static final Duration WAIT = Duration.ofSeconds(30);
    static final String PARTNER = "initech";
    static final String OTHER = "acme-robotics";

    Path tmp;
    Worker worker;
    Http http;
    String base;
    ChromeDriver browser;
    final Map<String, String> tokens = new LinkedHashMap<>();
    final Map<String, Set<String>> storedIds = new HashMap<>();

    @BeforeAll
    void start() throws Exception {
        long t0 = System.nanoTime();
        Path chromium = firstExisting(System.getenv("CHROME_BIN"), "/usr/bin/chromium", "/usr/bin/chromium-browser");
        Path driver = firstExisting(System.getenv("CHROMEDRIVER"), "/usr/bin/chromedriver");
        if (chromium == null || driver == null) {
            String why = "ConsoleBrowserTest needs Chromium and its driver (Debian: apt-get install chromium "
                    + "chromium-driver; or set CHROME_BIN and CHROMEDRIVER); found browser " + chromium + ", driver "
                    + driver;
            if ("1".equals(System.getenv("TALLY_REQUIRE_BROWSER"))) {
                throw new IllegalStateException(why + " (TALLY_REQUIRE_BROWSER=1: not skipping)");
            }
            System.out.println("SKIPPED: " + why);
            Assumptions.abort(why);
        }
        tmp = Files.createTempDirectory("console-test");
        Instant now = Instant.now().truncatedTo(ChronoUnit.SECONDS);

        StringBuilder tokenFile = new StringBuilder();
        for (String tenant : DemoWorkload.tenants()) {
            tokens.put(tenant, tenant + "-token-0123456789abcdef");
            tokenFile.append(tokens.get(tenant)).append(" = ").append(tenant).append('\n');
        }
        Files.writeString(tmp.resolve("tokens.properties"), tokenFile);

        // The partner's export (three broken initech lines), and lines initech must never see: a broken
        // globex line and one with no readable tenant.
        Path spool = Files.createDirectories(tmp.resolve("spool"));
        int[] partner = DemoSpool.write(tmp.resolve("partner.part"), 400, 7, now, 7);
        Files.move(tmp.resolve("partner.part"), spool.resolve("partner-export.jsonl"), StandardCopyOption.ATOMIC_MOVE);
        Files.writeString(tmp.resolve("other.part"), "{\"tenant\":\"globex\",\"id\":\"globex-secret-1\",\"type\":"
                + "\"llm.request\",\"subject\":\"key_globex_secret\",\"time\":\"" + now + "\",\"data\":{\"x\":NaN}}\n"
                + "no-tenant-secret-line\n");
        Files.move(tmp.resolve("other.part"), spool.resolve("other.jsonl"), StandardCopyOption.ATOMIC_MOVE);
        for (int i = 0; i < partner[0]; i++) {
            if (i != partner[0] / 4 && i != partner[0] / 2 && i != 3 * partner[0] / 4) { // DemoSpool's broken lines
                storedIds.computeIfAbsent(PARTNER, t -> new HashSet<>()).add(String.format("batch_%06d", i));
            }
        }

        Map<String, String> flags = new LinkedHashMap<>();
        flags.put("data-dir", tmp.resolve("data").toString());
        flags.put("http.port", "0");
        flags.put("import.interval", "100ms");
        flags.put("http.tokens-file", tmp.resolve("tokens.properties").toString());
        flags.put("import.spool-dirs", spool.toString());
        WorkerConfig config = ConfigLoader.load(null, Map.of(), flags);
        worker = Worker.open(config, Clock.systemUTC());
        worker.start();
        http = new Http("127.0.0.1", worker.httpPort().orElseThrow());
        base = "http://127.0.0.1:" + worker.httpPort().orElseThrow();

        // A week of the demo's traffic, sealed to Parquet, then an hour more in the active segment.
        post(new DemoWorkload(42, now.minus(Duration.ofHours(1)), Duration.ofDays(7)).next(4_000));
        awaitStored();
        worker.store().sealNow();
        post(new DemoWorkload(43, now, Duration.ofHours(1)).next(600));
        awaitStored();
        // The partner's three broken lines are dead letters, not events.
        await().atMost(WAIT).until(() -> JSON.readTree(get("/v1/dead-letters", PARTNER).body()).get("queued")
                .asInt() == partner[1]);

        System.out.printf("console test data ready in %.1f s%n", (System.nanoTime() - t0) / 1e9);
        ChromeOptions options = new ChromeOptions();
        options.setBinary(chromium.toFile());
        options.addArguments("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,1900", "--lang=en-US", "--no-first-run", "--disable-extensions");
        ChromeDriverService service = new ChromeDriverService.Builder().usingDriverExecutable(driver.toFile())
                .usingAnyFreePort().build();
        browser = new ChromeDriver(service, options);
        browser.manage().timeouts().scriptTimeout(WAIT);
    }

    @AfterAll
    void stop() throws IOException {
        if (browser != null) {
            browser.quit();
        }
        if (worker != null) {
            worker.shutdown(Duration.ofSeconds(30));
        }
        if (tmp != null) {
            try (Stream<Path> files = Files.walk(tmp)) {
                files.sorted((a, b) -> b.compareTo(a)).map(Path::toFile).forEach(File::delete);
            }
        }
    }

    @BeforeEach
    void freshPage() {
        browser.get(base + "/");
        browser.executeScript("sessionStorage.clear()");
        browser.get(base + "/");
    }

    /** With the partner's token the page shows the tiers, its dead letters with examples and a chart equal to the meter API. */
    @Test
    void console_partnerToken_showsTiersDeadLettersAndMeterEqualToApi() throws Exception {
        connect(tokens.get(PARTNER));

        // Tiers: the counts per tier are those of GET /v1/segments.
        JsonNode segments = JSON.readTree(get("/v1/segments", PARTNER).body()).get("segments");
        Map<String, Integer> perTier = new HashMap<>();
        segments.forEach(s -> perTier.merge(s.get("state").asText(), 1, Integer::sum));
        assertTrue(perTier.getOrDefault("SEALED_DETAIL", 0) > 0, "the test sealed a segment: " + perTier);
        await().atMost(WAIT).ignoreExceptions().untilAsserted(() -> {
            for (String tier : List.of("ACTIVE", "SEALED_DETAIL", "SEALED_ROLLUP")) {
                String shown = browser.findElement(By.cssSelector("#tiers tr[data-tier='" + tier + "'] td:nth-child(2)"))
                        .getText();
                assertEquals(String.format("%,d", perTier.getOrDefault(tier, 0)), shown, tier);
            }
        });

        // Dead letters: the partner's three broken lines by reason, each with its original line.
        JsonNode dlq = JSON.readTree(get("/v1/dead-letters", PARTNER).body());
        await().atMost(WAIT).until(() -> text("dlq-total").startsWith(dlq.get("queued").asInt() + " queued for "
                + PARTNER));
        // (The page redraws these parts on every refresh: read them whole, again if one was redrawn meanwhile.)
        await().atMost(WAIT).ignoreExceptions().untilAsserted(() -> {
            for (JsonNode reason : dlq.get("reasons")) {
                WebElement box = browser.findElement(By.cssSelector("#dlq [data-reason='"
                        + reason.get("reason").asText() + "']"));
                assertEquals(reason.get("count").asText(), box.findElement(By.className("count")).getText());
                List<WebElement> originals = box.findElements(By.cssSelector("pre.original"));
                assertEquals(reason.get("examples").size(), originals.size());
                assertTrue(originals.get(0).getText().contains("\"tenant\":\"" + PARTNER + "\""),
                        originals.get(0).getText());
            }
        });
        String page = browser.getPageSource();
        assertFalse(page.contains("globex-secret-1") || page.contains("no-tenant-secret-line"),
                "another tenant's or an unattributed dead letter is shown to " + PARTNER);

        // Health, import and maintenance are filled in; the import rate after the second sample.
        await().atMost(WAIT).until(() -> !text("ingest").contains("measuring"));
        await().atMost(WAIT).ignoreExceptions().untilAsserted(() -> {
            assertEquals("yes", browser.findElement(By.cssSelector("#health [data-key='ready']")).getText());
            assertFalse(browser.findElement(By.cssSelector("#maintenance [data-key='seals']")).getText()
                    .startsWith("—"), text("maintenance"));
        });

        // The chart: per day in the browser's zone, then per hour in New York, each equal to the meter API.
        assertChartEqualsApi(PARTNER);
        choose("range", "P1D");
        choose("window", "hour");
        WebElement tz = browser.findElement(By.id("tz"));
        tz.clear();
        tz.sendKeys("America/New_York");
        browser.findElement(By.cssSelector("#meter-form button")).click();
        await().atMost(WAIT).until(() -> text("meter-query").contains("tz=America%2FNew_York")
                && text("meter-query").contains("window=hour"));
        assertChartEqualsApi(PARTNER);
        assertTrue(text("meter-rows").contains("-05:00") || text("meter-rows").contains("-04:00"), text("meter-rows"));

        // Back to the daily view in UTC for the screenshot in the README: three questions in quick succession
        // (each picker asks at once), of which only the last may be drawn, however the answers arrive.
        choose("range", "P7D");
        choose("window", "day");
        tz.clear();
        tz.sendKeys("UTC");
        browser.findElement(By.cssSelector("#meter-form button")).click();
        await().atMost(WAIT).until(() -> text("meter-query").contains("window=day&tz=UTC"));
        assertChartEqualsApi(PARTNER);
        screenshot();
        assertTrue(text("meter-query").contains("window=day&tz=UTC"), "an older answer was drawn over the newest: "
                + text("meter-query"));
    }

    /** A token the worker does not know sees nothing, also after a valid token showed data in the same page. */
    @Test
    void console_wrongToken_seesNothing() {
        connect(tokens.get(PARTNER));
        await().atMost(WAIT).until(() -> !browser.findElements(By.cssSelector("#chart rect.bar")).isEmpty());

        connect("wrong-token-0123456789abcdef");
        await().atMost(WAIT).until(() -> text("status").startsWith("Refused (invalid_token)"));
        assertFalse(browser.findElement(By.id("main")).isDisplayed());
        for (String id : List.of("health", "ingest", "maintenance", "dlq", "chart", "meter-query", "tiers", "segments",
                "meter-rows", "meter-tenant", "dlq-total")) {
            String shown = (String) browser.executeScript("return document.getElementById(arguments[0]).textContent",
                    id);
            assertFalse(shown.contains(PARTNER) || shown.contains("batch_") || shown.matches("(?s).*\\d.*"),
                    "#" + id + " still shows data after a refused token: " + shown);
        }
        assertFalse(browser.getPageSource().contains(PARTNER));
    }

    /** Another tenant's token sees its own meter and none of the partner's dead letters. */
    @Test
    void console_otherTenantToken_seesOnlyItsOwnData() throws Exception {
        connect(tokens.get(OTHER));
        await().atMost(WAIT).until(() -> text("dlq-total").startsWith("0 queued for " + OTHER));
        assertEquals("No dead letters.", text("dlq"));
        assertChartEqualsApi(OTHER);
        assertTrue(text("meter-tenant").startsWith("tenant " + OTHER), text("meter-tenant"));
        String page = browser.getPageSource();
        assertFalse(page.contains(PARTNER) || page.contains("globex-secret-1") || page.contains("no-tenant-secret"),
                "the partner's data is shown to " + OTHER);
    }

    // ---------------------------------------------------------------- helpers

    private void connect(String token) {
        WebElement field = browser.findElement(By.id("token"));
        field.clear();
        field.sendKeys(token);
        browser.findElement(By.id("connect")).click();
    }

    /** The chart's bars and the table equal, window by window, the answer of the query the page shows it asked. */
    private void assertChartEqualsApi(String tenant) throws Exception {
        await().atMost(WAIT).until(() -> !browser.findElements(By.cssSelector("#chart rect.bar")).isEmpty());
        String query = text("meter-query");
        assertTrue(query.startsWith("/v1/meters/requests/query?") && query.contains("sum-subjects=true"), query);
        JsonNode answer = JSON.readTree(get(query, tenant).body());
        assertEquals(tenant, answer.get("tenant").asText());
        List<String> expected = new ArrayList<>();
        for (JsonNode row : answer.get("rows")) {
            expected.add(row.get("window_start").asText() + " = " + row.get("value").decimalValue().stripTrailingZeros()
                    .toPlainString());
        }
        assertFalse(expected.isEmpty(), "the meter has values in range: " + answer);
        List<String> bars = new ArrayList<>();
        for (WebElement bar : browser.findElements(By.cssSelector("#chart rect.bar"))) {
            bars.add(bar.getAttribute("data-start") + " = " + new BigDecimal(bar.getAttribute("data-value"))
                    .stripTrailingZeros().toPlainString());
        }
        List<String> rows = new ArrayList<>();
        for (WebElement tr : browser.findElements(By.cssSelector("#meter-rows tbody tr"))) {
            rows.add(tr.getAttribute("data-start") + " = " + new BigDecimal(tr.getAttribute("data-value"))
                    .stripTrailingZeros().toPlainString());
        }
        assertEquals(expected, bars, "chart vs " + query);
        assertEquals(expected, rows, "table vs " + query);
    }

    private void choose(String select, String value) {
        browser.findElement(By.cssSelector("#" + select + " option[value='" + value + "']")).click();
    }

    private String text(String id) {
        return browser.findElement(By.id(id)).getText();
    }

    private void screenshot() throws IOException {
        byte[] png = browser.getScreenshotAs(OutputType.BYTES);
        Path target = Path.of("target", "console.png");
        Files.createDirectories(target.getParent());
        Files.write(target, png);
        String copy = System.getProperty("tally.console.screenshot");
        if (copy != null && !copy.isBlank()) {
            Files.write(Path.of(copy), png);
        }
    }

    private java.net.http.HttpResponse<String> get(String path, String tenant) throws Exception {
        return http.get(path, "Authorization", "Bearer " + tokens.get(tenant));
    }

    /** Posts each tenant's events with its token and remembers the ids accepted. */
    private void post(List<UsageEvent> events) throws Exception {
        Map<String, List<UsageEvent>> byTenant = new LinkedHashMap<>();
        for (UsageEvent e : events) {
            if (tokens.containsKey(e.tenant())) {
                byTenant.computeIfAbsent(e.tenant(), t -> new ArrayList<>()).add(e);
            }
        }
        for (Map.Entry<String, List<UsageEvent>> t : byTenant.entrySet()) {
            List<UsageEvent> list = t.getValue();
            for (int from = 0; from < list.size(); from += 1_000) {
                List<UsageEvent> batch = list.subList(from, Math.min(list.size(), from + 1_000));
                StringBuilder body = new StringBuilder();
                batch.forEach(e -> body.append(EventCodec.toJson(e)).append('\n'));
                var r = http.post("/v1/events", "application/x-ndjson", body.toString(), "Authorization",
                        "Bearer " + tokens.get(t.getKey()));
                assertTrue(r.statusCode() == 202 || r.statusCode() == 400, r.body());
                Set<Integer> refused = new HashSet<>();
                JSON.readTree(r.body()).path("rejected").forEach(x -> refused.add(x.get("index").asInt()));
                for (int i = 0; i < batch.size(); i++) {
                    if (!refused.contains(i)) {
                        storedIds.computeIfAbsent(t.getKey(), k -> new HashSet<>()).add(batch.get(i).id());
                    }
                }
            }
        }
    }

    /** Waits until every tenant's meter counts exactly the distinct events accepted for it. */
    private void awaitStored() {
        await().atMost(Duration.ofSeconds(60)).untilAsserted(() -> {
            for (Map.Entry<String, Set<String>> t : storedIds.entrySet()) {
                JsonNode rows = JSON.readTree(get("/v1/meters/requests/query?sum-subjects=true&from="
                        + Instant.now().minus(Duration.ofDays(8)).truncatedTo(ChronoUnit.SECONDS) + "&to="
                        + Instant.now().plus(Duration.ofHours(1)).truncatedTo(ChronoUnit.SECONDS), t.getKey()).body())
                        .get("rows");
                assertEquals(t.getValue().size(), rows.isEmpty() ? 0 : rows.get(0).get("events").asInt(), t.getKey());
            }
        });
    }

    private static Path firstExisting(String... candidates) {
        for (String c : candidates) {
            if (c != null && !c.isBlank() && Files.isExecutable(Path.of(c))) {
                return Path.of(c);
            }
        }
        return null;
    }
}
