package dev.tally.worker.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tally.store.UsageStoreBuilder;
import dev.tally.store.journal.JournalConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SettingDefaultsTest {
    @TempDir
    Path tmp;

    /** Every key's default, parsed and typed, is exactly the value documented for it; a new key without an entry here fails. */
    @Test
    void load_withNothingSet_givesEveryKeysDefault() {
        Map<Setting, Object> expected = new EnumMap<>(Setting.class);
        expected.put(Setting.DATA_DIR, Path.of(System.getProperty("user.home"), ".local", "share", "tally")
                .toAbsolutePath());
        expected.put(Setting.HTTP_HOST, "127.0.0.1");
        expected.put(Setting.HTTP_PORT, 8080);
        expected.put(Setting.SPOOL_DIRS, List.of());
        expected.put(Setting.IMPORT_INTERVAL, Duration.ofSeconds(1));
        expected.put(Setting.MAINTENANCE_INTERVAL, Duration.ofMinutes(1));
        expected.put(Setting.SEGMENT_MAX_BYTES, 64L << 20);
        expected.put(Setting.SEGMENT_MAX_AGE, Duration.ofHours(1));
        expected.put(Setting.RETENTION_DETAIL, Duration.ofDays(35));
        expected.put(Setting.RETENTION_ROLLUPS, Duration.ofDays(400));
        expected.put(Setting.JOURNAL_FSYNC, new WorkerConfig.FsyncMode(true, null));
        expected.put(Setting.METERS_FILE, null);
        expected.put(Setting.HTTP_TOKENS_FILE, null);
        expected.put(Setting.HTTP_MAX_REQUEST_BYTES, 16L << 20);
        expected.put(Setting.HTTP_TLS_KEYSTORE, null);
        expected.put(Setting.HTTP_TLS_KEYSTORE_PASSWORD_FILE, null);
        expected.put(Setting.CATALOG_URI, "sqlite");
        expected.put(Setting.LOG_FORMAT, "text");
        expected.put(Setting.LOG_LEVEL, "info");
        expected.put(Setting.SHARD_ID, null);
        expected.put(Setting.SHARD_MAP_FILE, null);
        expected.put(Setting.EVENTS_MAX_AGE, Duration.ofDays(35));
        expected.put(Setting.EVENTS_MAX_CLOCK_SKEW, Duration.ofMinutes(5));
        expected.put(Setting.ORPHAN_GRACE, Duration.ofHours(1));
        expected.put(Setting.COMPACT_AFTER, Duration.ofDays(1));
        expected.put(Setting.CATALOG_USER, "");
        expected.put(Setting.CATALOG_PASSWORD_FILE, null);
        expected.put(Setting.CATALOG_WAREHOUSE, null);
        expected.put(Setting.CATALOG_NAMESPACE, "tally");
        expected.put(Setting.CATALOG_SNAPSHOT_RETENTION, Duration.ofDays(7));
        expected.put(Setting.CATALOG_SNAPSHOTS_KEPT, 10L);
        expected.put(Setting.CATALOG_EXPIRE_INTERVAL, Duration.ofHours(1));
        expected.put(Setting.IMPORT_BATCH_SIZE, 20_000L);
        expected.put(Setting.IMPORT_MAX_LINE_BYTES, 1L << 20);
        expected.put(Setting.DLQ_MAX_ATTEMPTS, 5L);
        expected.put(Setting.JOURNAL_MAX_BYTES, 64L << 20);
        expected.put(Setting.JOURNAL_MAX_AGE, Duration.ofHours(1));
        expected.put(Setting.SHUTDOWN_TIMEOUT, Duration.ofSeconds(30));
        expected.put(Setting.LOOP_MAX_BACKOFF, Duration.ofMinutes(1));
        expected.put(Setting.HTTP_THREADS, 8L);
        expected.put(Setting.HTTP_MAX_CONNECTIONS, 512L);
        expected.put(Setting.HTTP_HEADER_TIMEOUT, Duration.ofSeconds(10));
        expected.put(Setting.HTTP_REQUEST_TIMEOUT, Duration.ofSeconds(60));
        expected.put(Setting.HTTP_IDLE_TIMEOUT, Duration.ofSeconds(30));
        expected.put(Setting.HTTP_MAX_HEADER_BYTES, 16L << 10);
        expected.put(Setting.CACHE_SEGMENT_ENTRIES, 10_000L);
        expected.put(Setting.SQL_MEMORY_LIMIT, 512L << 20);
        expected.put(Setting.SQL_TIMEOUT, Duration.ofSeconds(30));
        expected.put(Setting.SQL_MAX_ROWS, 10_000L);
        expected.put(Setting.SQL_MAX_RESULT_BYTES, 16L << 20);
        expected.put(Setting.SQL_MAX_CONCURRENT, 2L);

        assertEquals(EnumSet.allOf(Setting.class), expected.keySet(), "every setting needs its default checked here");
        WorkerConfig c = ConfigLoader.load(null, Map.of(), Map.of());
        for (Setting s : Setting.values()) {
            assertEquals(expected.get(s), c.get(s), s.key());
            assertEquals("default", c.origin(s), s.key());
        }
    }

    /** The worker's defaults for store and journal settings are the library's own defaults. */
    @Test
    void defaults_matchStoreAndJournalDefaults() {
        WorkerConfig c = ConfigLoader.load(null, Map.of(), Map.of());
        assertEquals(UsageStoreBuilder.DEFAULT_MAX_SEGMENT_BYTES, c.size(Setting.SEGMENT_MAX_BYTES));
        assertEquals(UsageStoreBuilder.DEFAULT_MAX_SEGMENT_AGE, c.duration(Setting.SEGMENT_MAX_AGE));
        assertEquals(UsageStoreBuilder.DEFAULT_DETAIL_RETENTION, c.duration(Setting.RETENTION_DETAIL));
        assertEquals(UsageStoreBuilder.DEFAULT_ROLLUP_RETENTION, c.duration(Setting.RETENTION_ROLLUPS));
        assertEquals(UsageStoreBuilder.DEFAULT_MAX_EVENT_AGE, c.duration(Setting.EVENTS_MAX_AGE));
        assertEquals(UsageStoreBuilder.DEFAULT_MAX_CLOCK_SKEW, c.duration(Setting.EVENTS_MAX_CLOCK_SKEW));
        assertEquals(UsageStoreBuilder.DEFAULT_ORPHAN_GRACE_PERIOD, c.duration(Setting.ORPHAN_GRACE));
        assertEquals(UsageStoreBuilder.DEFAULT_COMPACT_AFTER, c.duration(Setting.COMPACT_AFTER));
        assertEquals(UsageStoreBuilder.DEFAULT_SEGMENT_CACHE_ENTRIES, c.size(Setting.CACHE_SEGMENT_ENTRIES));
        JournalConfig j = c.journalConfig(java.time.Clock.systemUTC());
        assertEquals(JournalConfig.DEFAULT_MAX_JOURNAL_BYTES, j.maxJournalBytes());
        assertEquals(JournalConfig.DEFAULT_MAX_JOURNAL_AGE, j.maxJournalAge());
        assertEquals(JournalConfig.DEFAULT_MAX_RECORD_BYTES, j.maxRecordBytes());
    }

    /** A flag beats the environment, which beats the file, which beats the default; each origin is recorded. */
    @Test
    void load_fileEnvAndFlags_applyInPrecedenceOrder() throws Exception {
        Path file = tmp.resolve("worker.properties");
        Files.writeString(file, "import.interval = 5s\nmaintenance.interval = 2m\nhttp.port = 9000\n");
        WorkerConfig c = ConfigLoader.load(file, Map.of("TALLY_MAINTENANCE_INTERVAL", "3m", "TALLY_HTTP_PORT", "9100"),
                Map.of("http.port", "9200"));
        assertEquals(Duration.ofSeconds(5), c.duration(Setting.IMPORT_INTERVAL));
        assertEquals(Duration.ofMinutes(3), c.duration(Setting.MAINTENANCE_INTERVAL));
        assertEquals(9200, c.port(Setting.HTTP_PORT));
        assertEquals("config file " + file, c.origin(Setting.IMPORT_INTERVAL));
        assertEquals("environment variable TALLY_MAINTENANCE_INTERVAL", c.origin(Setting.MAINTENANCE_INTERVAL));
        assertEquals("the command line", c.origin(Setting.HTTP_PORT));
    }

    /** A bad value stops loading with a message naming the key, the value, where it came from and why. */
    @Test
    void load_badValue_namesKeyValueOriginAndReason() {
        ConfigException e = assertThrows(ConfigException.class,
                () -> ConfigLoader.load(null, Map.of("TALLY_SEGMENT_MAX_BYTES", "lots"), Map.of()));
        assertTrue(e.getMessage().contains("segment.max-bytes = 'lots' is not a size"), e.getMessage());
        assertTrue(e.getMessage().contains("environment variable TALLY_SEGMENT_MAX_BYTES"), e.getMessage());
        ConfigException level = assertThrows(ConfigException.class,
                () -> ConfigLoader.load(null, Map.of(), Map.of("log.level", "loud")));
        assertTrue(level.getMessage().contains("log.level = 'loud' must be one of"), level.getMessage());
        ConfigException threads = assertThrows(ConfigException.class,
                () -> ConfigLoader.load(null, Map.of(), Map.of("http.threads", "0")));
        assertTrue(threads.getMessage().contains("http.threads = 0"), threads.getMessage());
    }

    /** A misspelt key is refused with the closest known key as a suggestion. */
    @Test
    void load_unknownKey_suggestsClosest() {
        ConfigException e = assertThrows(ConfigException.class,
                () -> ConfigLoader.load(null, Map.of(), Map.of("http.prot", "1")));
        assertTrue(e.getMessage().contains("did you mean 'http.port'?"), e.getMessage());
    }
}
