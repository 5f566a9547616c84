package dev.tally.store.testing;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * An exactly-once checker that does not trust the store: it finds every DuckDB segment file and
 * every detail Parquet file under a store's root (published in the manifest or not, tracked by the
 * store or not; {@code quarantine/} and rollups excepted) and reads their {@code tenant, id} with
 * plain SQL in its own in-memory DuckDB. A row the store's view would hide (an unpublished part, a
 * retired segment left behind) is counted all the same. Read a store that is closed.
 *
 * <p>Thread-safe: stateless.
 */
public final class DiskRows {
    private DiskRows() {
    }

    /** What was found: how often each {@code tenant/id} is stored, and the files read. */
    public record Scan(Map<String, Integer> counts, List<Path> files, List<Path> leftovers) {
        public int count(String key) {
            return counts.getOrDefault(key, 0);
        }

        /** Keys stored more than once. */
        public List<String> doubled() {
            return counts.entrySet().stream().filter(e -> e.getValue() > 1).map(Map.Entry::getKey).sorted().toList();
        }
    }

    /** Scans the store rooted at {@code root}. */
    public static Scan scan(Path root) {
        List<Path> segments = new ArrayList<>();
        List<Path> parquet = new ArrayList<>();
        List<Path> leftovers = new ArrayList<>();
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                if (!Files.isRegularFile(p) || root.relativize(p).startsWith("quarantine")
                        || root.relativize(p).startsWith("rollups")) {
                    continue;
                }
                String name = p.getFileName().toString();
                if (name.endsWith(".duckdb")) {
                    segments.add(p);
                } else if (name.endsWith(".parquet")) {
                    parquet.add(p);
                } else if (name.endsWith(".tmp") || name.endsWith(".deleted")) {
                    leftovers.add(p);
                }
            }
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        Map<String, Integer> counts = new HashMap<>();
        List<Path> files = new ArrayList<>();
        try (Connection c = DriverManager.getConnection("jdbc:duckdb:"); Statement st = c.createStatement()) {
            int n = 0;
            for (Path seg : segments) {
                String alias = "seg" + n++;
                st.execute("ATTACH " + literal(seg) + " AS " + alias + " (READ_ONLY)");
                read(st, "SELECT tenant, id FROM " + alias + ".main.usage_events", counts);
                st.execute("DETACH " + alias);
                files.add(seg);
            }
            for (Path p : parquet) {
                read(st, "SELECT tenant, id FROM read_parquet(" + literal(p) + ")", counts);
                files.add(p);
            }
        } catch (java.sql.SQLException e) {
            throw new IllegalStateException("cannot read the store's files under " + root + ": " + e.getMessage(), e);
        }
        return new Scan(counts, files, leftovers);
    }

    private static void read(Statement st, String sql, Map<String, Integer> counts) throws java.sql.SQLException {
        try (ResultSet rs = st.executeQuery(sql)) {
            while (rs.next()) {
                counts.merge(rs.getString(1) + "/" + rs.getString(2), 1, Integer::sum);
            }
        }
    }

    private static String literal(Path p) {
        return "'" + p.toAbsolutePath().toString().replace("'", "''") + "'";
    }
}
