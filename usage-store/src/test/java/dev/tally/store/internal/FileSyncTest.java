package dev.tally.store.internal;

import dev.tally.store.io.FileSync;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FileSyncTest {
    @TempDir
    Path root;

    /** Paths from input that would leave their root are refused. */
    @Test
    void resolveInside_refusesEscapes() {
        for (String bad : new String[] {"../x", "a/../../x", "/etc/passwd", "a\0b", "", "."}) {
            assertThrows(IllegalArgumentException.class, () -> FileSync.resolveInside(root, bad), bad);
        }
        assertEquals(root.resolve("archive/day=2026-11-20/x.parquet"),
                FileSync.resolveInside(root, "archive/./day=2026-11-20/x.parquet"));
    }

    /** An atomic write replaces the file and leaves no temporary file behind. */
    @Test
    void writeAtomically_replacesWithoutTemp() throws Exception {
        Path f = root.resolve("manifest.json");
        FileSync.writeAtomically(f, "one".getBytes());
        FileSync.writeAtomically(f, "two".getBytes());
        assertEquals("two", Files.readString(f));
        assertEquals(1, Files.list(root).count());
    }
}
