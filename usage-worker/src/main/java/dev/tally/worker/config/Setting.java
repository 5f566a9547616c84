package dev.tally.worker.config;

import java.util.Locale;

/**
 * Every configuration key of the worker, with its meaning, default, unit and group. This enum is
 * the single definition: the loader, the validation, {@code docs/configuration.md} and the tests
 * all read it.
 */
public enum Setting {
    // ---- Essentials: set these on every installation.
    DATA_DIR("data-dir", Group.ESSENTIALS, Kind.PATH, "", "path",
            "Where the store keeps its segments, archive, journal and dead letters. Empty means the per-user "
                    + "data folder ($XDG_DATA_HOME/tally, else ~/.local/share/tally)."),
    HTTP_HOST("http.host", Group.ESSENTIALS, Kind.STRING, "127.0.0.1", "address",
            "Address the HTTP API listens on. Loopback by default; expose it only behind auth (http.tokens-file)."),
    HTTP_PORT("http.port", Group.ESSENTIALS, Kind.PORT, "8080", "port",
            "Port of the HTTP API; 0 picks a free port (printed at start), -1 disables the API."),

    // ---- Frequently used.
    SPOOL_DIRS("import.spool-dirs", Group.FREQUENT, Kind.PATH_LIST, "", "paths, comma-separated",
            "Folders whose *.jsonl files are imported incrementally (complete lines only)."),
    IMPORT_INTERVAL("import.interval", Group.FREQUENT, Kind.DURATION, "1s", "duration",
            "Pause between import passes when there was nothing to import."),
    MAINTENANCE_INTERVAL("maintenance.interval", Group.FREQUENT, Kind.DURATION, "1m", "duration",
            "Pause between maintenance passes (age rollover, seal, retention, orphan cleanup, compaction)."),
    SEGMENT_MAX_BYTES("segment.max-bytes", Group.FREQUENT, Kind.SIZE, "64MiB", "bytes",
            "Seal the active segment when its .duckdb plus .wal grew by this much since it was created (an empty segment file already takes about 1.5MiB). Minimum 1MiB."),
    SEGMENT_MAX_AGE("segment.max-age", Group.FREQUENT, Kind.DURATION, "1h", "duration",
            "Seal the active segment when it is this old."),
    RETENTION_DETAIL("retention.detail", Group.FREQUENT, Kind.DURATION, "35d", "duration",
            "Keep event detail this long after its newest event; also the dedup window."),
    RETENTION_ROLLUPS("retention.rollups", Group.FREQUENT, Kind.DURATION, "400d", "duration",
            "Keep hourly rollups this long. Must be at least retention.detail."),
    JOURNAL_FSYNC("journal.fsync", Group.FREQUENT, Kind.FSYNC, "per-batch", "per-batch | interval:DURATION",
            "per-batch acknowledges after fsync; interval:10ms acknowledges after the write and fsyncs every "
                    + "10 ms (a crash of the machine may lose the last interval)."),
    METERS_FILE("meters.file", Group.FREQUENT, Kind.PATH, "", "path",
            "JSON file of meter definitions. Empty means the built-in LLM meters."),
    HTTP_TOKENS_FILE("http.tokens-file", Group.FREQUENT, Kind.PATH, "", "path",
            "Properties file mapping bearer tokens to tenants (token=tenant). Empty disables auth."),
    HTTP_MAX_REQUEST_BYTES("http.max-request-bytes", Group.FREQUENT, Kind.SIZE, "16MiB", "bytes",
            "Largest request body the API accepts (1KiB to 1GiB); larger ones get 413."),
    HTTP_TLS_KEYSTORE("http.tls.keystore", Group.FREQUENT, Kind.PATH, "", "path",
            "PKCS12 key store with the server's certificate and key. When set, the API speaks HTTPS only "
                    + "(HTTP/1.1, and HTTP/2 by ALPN); empty means cleartext HTTP/1.1 and h2c."),
    HTTP_TLS_KEYSTORE_PASSWORD_FILE("http.tls.keystore-password-file", Group.FREQUENT, Kind.PATH, "", "path",
            "File whose first line is the key store's password. Required with http.tls.keystore."),
    CATALOG_URI("catalog.uri", Group.FREQUENT, Kind.STRING, "sqlite", "off | sqlite | jdbc:sqlite:PATH | jdbc:postgresql://HOST:PORT/DB",
            "Register every sealed part in the Iceberg tables usage_events and usage_rollups_hourly of this JDBC "
                    + "catalog (docs/scale-out.md). off: no catalog; sqlite: an SQLite file in the data "
                    + "directory (catalog/catalog.db), no setup, registered by the maintenance loop; a PostgreSQL "
                    + "URL for a catalog shared by several workers."),
    LOG_FORMAT("log.format", Group.FREQUENT, Kind.LOG_FORMAT, "text", "text | json",
            "Log line format on standard error; json writes one JSON object per line."),
    LOG_LEVEL("log.level", Group.FREQUENT, Kind.LOG_LEVEL, "info", "error | warn | info | debug | trace",
            "Least severe log level written. info logs start-up, every seal and retention action with its "
                    + "reason, and failures; nothing is logged per event."),

    // ---- Rare.
    SHARD_ID("shard.id", Group.RARE, Kind.NAME, "", "worker id",
            "This worker's id in shard.map-file, when several workers split the tenants between them (see "
                    + "docs/scale-out.md). Empty means one worker owns every tenant."),
    SHARD_MAP_FILE("shard.map-file", Group.RARE, Kind.PATH, "", "path",
            "Properties file shared by every worker of the group: `worker.ID = BASE-URL` and `tenant.TENANT = ID` "
                    + "lines. Events and queries of a tenant this worker does not own are refused with 421 "
                    + "naming the owner; the CLI sends queries to the owner. Required with shard.id."),
    EVENTS_MAX_AGE("events.max-age", Group.RARE, Kind.DURATION, "35d", "duration",
            "Refuse events older than this. At most retention.detail, so dedup always sees the original."),
    EVENTS_MAX_CLOCK_SKEW("events.max-clock-skew", Group.RARE, Kind.DURATION, "5m", "duration",
            "Refuse events further ahead of the clock than this."),
    ORPHAN_GRACE("retention.orphan-grace", Group.RARE, Kind.DURATION, "1h", "duration",
            "Unreferenced files younger than this are never deleted."),
    COMPACT_AFTER("compaction.after", Group.RARE, Kind.DURATION, "1d", "duration",
            "Maintenance merges a UTC day's sealed parts into one file per month (rollups) and per ISO week "
                    + "(detail) once the day ended this long ago. `usage-worker compact` does every closed day now."),
    CATALOG_USER("catalog.user", Group.RARE, Kind.STRING, "", "name",
            "Database user of catalog.uri (PostgreSQL). Empty: none."),
    CATALOG_PASSWORD_FILE("catalog.password-file", Group.RARE, Kind.PATH, "", "path",
            "File whose first line is the password of catalog.user. Empty: no password."),
    CATALOG_WAREHOUSE("catalog.warehouse", Group.RARE, Kind.PATH, "", "path",
            "Folder of the tables' Iceberg metadata (the parts themselves stay in the data directory). Empty: "
                    + "catalog/warehouse in the data directory; a folder every worker and reader sees when the "
                    + "catalog is shared."),
    CATALOG_NAMESPACE("catalog.namespace", Group.RARE, Kind.STRING, "tally", "name",
            "Namespace (database) of the two tables in the catalog: letters, digits and _."),
    CATALOG_SNAPSHOT_RETENTION("catalog.snapshot-retention", Group.RARE, Kind.DURATION, "7d", "duration",
            "Catalog snapshots older than this are expired (the newest catalog.snapshots-kept are always kept); "
                    + "time travel reaches back this far."),
    CATALOG_SNAPSHOTS_KEPT("catalog.snapshots-kept", Group.RARE, Kind.COUNT, "10", "snapshots",
            "Snapshots per table kept whatever their age (1 to 10000)."),
    CATALOG_EXPIRE_INTERVAL("catalog.expire-interval", Group.RARE, Kind.DURATION, "1h", "duration",
            "How often the maintenance loop expires old catalog snapshots."),
    // 20,000: in the durable-ingest step, 10,000 imported a fifth slower and 30,000 or more used
    // more memory for no gain (docs/benchmarks-ingest.md, "The import batch").
    IMPORT_BATCH_SIZE("import.batch-size", Group.RARE, Kind.COUNT, "20000", "events",
            "Events per import transaction (1 to 100000)."),
    IMPORT_MAX_LINE_BYTES("import.max-line-bytes", Group.RARE, Kind.SIZE, "1MiB", "bytes",
            "Longer input lines are dead-lettered as line_too_long without being read whole."),
    DLQ_MAX_ATTEMPTS("dlq.max-attempts", Group.RARE, Kind.COUNT, "5", "attempts",
            "Replays of a dead letter before it moves to dlq/dead/."),
    JOURNAL_MAX_BYTES("journal.max-bytes", Group.RARE, Kind.SIZE, "64MiB", "bytes",
            "Rotate the live journal at this size."),
    JOURNAL_MAX_AGE("journal.max-age", Group.RARE, Kind.DURATION, "1h", "duration",
            "Rotate the live journal at this age."),
    SHUTDOWN_TIMEOUT("shutdown.timeout", Group.RARE, Kind.DURATION, "30s", "duration",
            "How long a graceful stop may take before the worker exits anyway (with exit code 5)."),
    LOOP_MAX_BACKOFF("loop.max-backoff", Group.RARE, Kind.DURATION, "1m", "duration",
            "Longest pause before retrying a failed import or maintenance pass; the pause starts at 1s and "
                    + "doubles with each failure in a row."),
    HTTP_THREADS("http.threads", Group.RARE, Kind.COUNT, "8", "threads",
            "Threads serving HTTP requests (1 to 256). Concurrent event posts share journal fsyncs."),
    HTTP_MAX_CONNECTIONS("http.max-connections", Group.RARE, Kind.COUNT, "512", "connections",
            "Open HTTP connections at most (1 to 100000); at the limit the API accepts no more until one "
                    + "closes, and idle ones are closed after http.header-timeout."),
    HTTP_HEADER_TIMEOUT("http.header-timeout", Group.RARE, Kind.DURATION, "10s", "duration",
            "Time a client has to complete a request's headers once it started sending them; slower "
                    + "connections are closed."),
    HTTP_REQUEST_TIMEOUT("http.request-timeout", Group.RARE, Kind.DURATION, "60s", "duration",
            "Time a client has to send a request's whole body once its headers arrived; slower ones get 408."),
    HTTP_IDLE_TIMEOUT("http.idle-timeout", Group.RARE, Kind.DURATION, "30s", "duration",
            "A connection with no traffic for this long is closed."),
    HTTP_MAX_HEADER_BYTES("http.max-header-bytes", Group.RARE, Kind.SIZE, "16KiB", "bytes",
            "Largest request line plus headers (1KiB to 1MiB); larger ones get 431."),
    CACHE_SEGMENT_ENTRIES("cache.segment-entries", Group.RARE, Kind.COUNT, "10000", "entries",
            "Per-segment query results kept in memory."),
    SQL_MEMORY_LIMIT("sql.memory-limit", Group.RARE, Kind.SIZE, "512MiB", "bytes",
            "DuckDB memory_limit of each SQL sandbox (16MiB to 64GiB); a statement needing more is refused with "
                    + "422 sql_memory_limit."),
    SQL_TIMEOUT("sql.timeout", Group.RARE, Kind.DURATION, "30s", "duration",
            "Longest a sandboxed SQL statement may run; it is then cancelled (422 sql_timeout)."),
    SQL_MAX_ROWS("sql.max-rows", Group.RARE, Kind.COUNT, "10000", "rows",
            "Most rows a SQL result returns (1 to 1000000); more set truncated."),
    SQL_MAX_RESULT_BYTES("sql.max-result-bytes", Group.RARE, Kind.SIZE, "16MiB", "bytes",
            "Largest SQL result, as text (1KiB to 1GiB); a larger one is refused with 422 sql_result_too_large."),
    SQL_MAX_CONCURRENT("sql.max-concurrent", Group.RARE, Kind.COUNT, "2", "statements",
            "SQL statements (each with its own sandbox) running at once (1 to 64); more are refused with 429 "
                    + "sql_busy.");

    /** How often people touch a setting; the documentation is grouped by it. */
    public enum Group {
        ESSENTIALS("Essentials"), FREQUENT("Frequently used"), RARE("Rare");

        private final String title;

        Group(String title) {
            this.title = title;
        }

        public String title() {
            return title;
        }
    }

    /** The value syntax of a setting. */
    public enum Kind { STRING, NAME, PATH, PATH_LIST, PORT, DURATION, SIZE, COUNT, FSYNC, LOG_FORMAT, LOG_LEVEL }

    private final String key;
    private final Group group;
    private final Kind kind;
    private final String defaultValue;
    private final String unit;
    private final String meaning;

    Setting(String key, Group group, Kind kind, String defaultValue, String unit, String meaning) {
        this.key = key;
        this.group = group;
        this.kind = kind;
        this.defaultValue = defaultValue;
        this.unit = unit;
        this.meaning = meaning;
    }

    public String key() {
        return key;
    }

    public Group group() {
        return group;
    }

    public Kind kind() {
        return kind;
    }

    public String defaultValue() {
        return defaultValue;
    }

    public String unit() {
        return unit;
    }

    public String meaning() {
        return meaning;
    }

    /** The environment variable that overrides this key: {@code TALLY_} + upper snake case. */
    public String envName() {
        return "TALLY_" + key.toUpperCase(Locale.ROOT).replace('.', '_').replace('-', '_');
    }

    public static Setting byKey(String key) {
        for (Setting s : values()) {
            if (s.key.equals(key)) {
                return s;
            }
        }
        return null;
    }
}
