package dev.tally.store.sql;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tally.store.StoreException;
import dev.tally.store.UsageEvent;
import dev.tally.store.UsageStore;
import dev.tally.store.testing.MutableClock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Exports of one tenant and range to Parquet or CSV: content, atomicity and where they may go. */
class ExportTest {
    private static final Instant NOW = Instant.parse("2026-11-20T12:00:00Z");

    @TempDir
    Path dir;

    private final MutableClock clock = new MutableClock(NOW);
    private UsageStore store;
    private Path out;

    @BeforeEach
    void open() throws Exception {
        store = UsageStore.builder(dir.resolve("store")).clock(clock).sealExecutor(Runnable::run).build();
        out = Files.createDirectories(dir.resolve("exports"));
        List<UsageEvent> events = new ArrayList<>();
        for (int i = 0; i < 30; i++) {
            events.add(new UsageEvent(i % 3 == 0 ? "globex" : "acme", "e" + i, "llm.request", "key,\"" + (i % 2) + "\"",
                    null, NOW.minus(Duration.ofHours(30 - i)), "{\"input_tokens\":" + i + ".5,\"note\":\"a,b\"}"));
        }
        store.append(events.subList(0, 20));
        store.sealNow();
        store.append(events.subList(20, 30));
    }

    @AfterEach
    void close() {
        store.close();
    }

    private EventExport.Request request(EventExport.Format f, String file, Instant from, Instant to) {
        return new EventExport.Request("acme", from, to, f, out, file, false);
    }

    /** A Parquet and a CSV export hold exactly the tenant's events in [from, to), in time order, and leave no temp file. */
    @Test
    void export_writesTenantRangeToParquetAndCsvInTimeOrder() throws Exception {
        Instant from = NOW.minus(Duration.ofHours(25));
        Instant to = NOW.minus(Duration.ofHours(5)); // event e25 sits exactly at `to` and is left out
        EventExport.Result pq = EventExport.export(store, request(EventExport.Format.PARQUET, "finance/nov.parquet", from, to));
        EventExport.Result csv = EventExport.export(store, request(EventExport.Format.CSV, "finance/nov.csv", from, to));
        // e5..e24 of acme: 20 events minus the globex ones (i % 3 == 0: 6, 9, 12, 15, 18, 21, 24).
        assertEquals(13, pq.rows());
        assertEquals(13, csv.rows());
        assertEquals(out.resolve("finance/nov.parquet"), pq.file());
        try (var files = Files.list(out.resolve("finance"))) {
            assertEquals(List.of("nov.csv", "nov.parquet"), files.map(p -> p.getFileName().toString()).sorted().toList());
        }
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement s = c.createStatement()) {
            s.execute("SET TimeZone = 'UTC'");
            try (ResultSet rs = s.executeQuery("SELECT list(id ORDER BY time), count(DISTINCT tenant), min(time), "
                    + "typeof(min(time)), sum((data->>'input_tokens')::DECIMAL(38,9)) FROM read_parquet('" + pq.file() + "')")) {
                rs.next();
                assertEquals("[e5, e7, e8, e10, e11, e13, e14, e16, e17, e19, e20, e22, e23]", rs.getString(1));
                assertEquals(1, rs.getInt(2));
                assertEquals("TIMESTAMP WITH TIME ZONE", rs.getString(4));
                assertEquals("191.500000000", rs.getBigDecimal(5).toPlainString());
            }
        }
        List<String> lines = Files.readAllLines(csv.file());
        assertEquals("tenant,id,type,subject,source,time,data", lines.get(0));
        assertEquals("acme,e5,llm.request,\"key,\"\"1\"\"\",,2026-11-19T11:00:00.000000Z,"
                + "\"{\"\"input_tokens\"\":5.5,\"\"note\"\":\"\"a,b\"\"}\"", lines.get(1));
        assertEquals(14, lines.size());
    }

    /** Targets outside the output folder, with the wrong extension, or already there are refused, naming the file. */
    @Test
    void export_refusesPathsOutsideTheOutputFolder() throws Exception {
        Instant from = NOW.minus(Duration.ofDays(2));
        for (String bad : List.of("../escape.parquet", "/tmp/abs.parquet", "a/../../b.parquet", "x\0.parquet")) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> EventExport.export(store, request(EventExport.Format.PARQUET, bad, from, NOW)));
            assertTrue(e.getMessage().contains("path") || e.getMessage().contains("file"), e.getMessage());
        }
        IllegalArgumentException ext = assertThrows(IllegalArgumentException.class,
                () -> request(EventExport.Format.CSV, "x.parquet", from, NOW));
        assertTrue(ext.getMessage().contains("must end with .csv"), ext.getMessage());
        Path outside = Files.createDirectories(dir.resolve("outside"));
        Files.createSymbolicLink(out.resolve("link"), outside);
        IllegalArgumentException link = assertThrows(IllegalArgumentException.class,
                () -> EventExport.export(store, request(EventExport.Format.CSV, "link/x.csv", from, NOW)));
        assertTrue(link.getMessage().contains("symbolic link"), link.getMessage());
        try (var files = Files.list(outside)) {
            assertEquals(0, files.count());
        }
        EventExport.export(store, request(EventExport.Format.CSV, "once.csv", from, NOW));
        IllegalArgumentException again = assertThrows(IllegalArgumentException.class,
                () -> EventExport.export(store, request(EventExport.Format.CSV, "once.csv", from, NOW)));
        assertTrue(again.getMessage().contains("already exists"), again.getMessage());
        assertEquals(20, EventExport.export(store, new EventExport.Request("acme", from, NOW, EventExport.Format.CSV,
                out, "once.csv", true)).rows());
        assertFalse(Files.exists(dir.resolve("escape.parquet")));
    }

    /** An export over days whose detail retention deleted is refused instead of written short. */
    @Test
    void export_refusesRangeWhoseDetailRetentionDeleted() {
        clock.set(NOW.plus(Duration.ofDays(36)));
        store.retention(false);
        StoreException e = assertThrows(StoreException.class, () -> EventExport.export(store,
                request(EventExport.Format.PARQUET, "late.parquet", NOW.minus(Duration.ofDays(2)), clock.instant())));
        assertTrue(e.getMessage().contains("the event detail of [2026-11-19"), e.getMessage());
        assertFalse(Files.exists(out.resolve("late.parquet")));
    }
}
