package dev.tally.store.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * A child JVM's own {@code java.io.tmpdir}, deleted by the parent once the child is dead. DuckDB's
 * JDBC driver copies its 70 MB native library into the temporary directory at every start and
 * deletes it only at a clean exit, so each {@code kill -9} of a kill loop would otherwise leave
 * one copy behind (500 kills: 35 GB).
 *
 * <p>Thread-safe: stateless.
 */
public final class ChildTmp {
    private ChildTmp() {
    }

    /** A new, empty directory for one child. */
    public static Path create() throws IOException {
        return Files.createTempDirectory("tally-child-");
    }

    /** The JVM option that points the child's temporary files at {@code dir}. */
    public static String option(Path dir) {
        return "-Djava.io.tmpdir=" + dir;
    }

    /** Deletes {@code dir} and everything in it; call only once the child has exited. */
    public static void delete(Path dir) {
        if (dir == null || !Files.exists(dir)) {
            return;
        }
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : (Iterable<Path>) s.sorted(Comparator.reverseOrder())::iterator) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            // Best effort: a leftover temporary file does not change what the test checks.
        }
    }
}
