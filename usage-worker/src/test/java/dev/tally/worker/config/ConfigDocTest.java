package dev.tally.worker.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class ConfigDocTest {
    /** The repository's docs/configuration.md. */
    static Path docFile() {
        Path p = Path.of("..", "docs", "configuration.md");
        return Files.exists(p) ? p : Path.of("docs", "configuration.md");
    }

    /** docs/configuration.md is exactly what the Setting enum renders; regenerate it when this fails. */
    @Test
    void configurationDoc_matchesSettings() throws Exception {
        String onDisk = Files.readString(docFile(), StandardCharsets.UTF_8);
        assertEquals(ConfigDoc.render(), onDisk, "docs/configuration.md is out of date; regenerate it with: "
                + "java -cp usage-worker/target/usage-worker.jar dev.tally.worker.config.ConfigDoc "
                + "docs/configuration.md (after ./mvnw -q -pl usage-worker -am compile)");
    }

    /** Every key appears in a table row with its default and environment variable, under its group's heading. */
    @Test
    void render_listsEveryKeyUnderItsGroup() {
        String doc = ConfigDoc.render();
        for (Setting s : Setting.values()) {
            int heading = doc.indexOf("## " + s.group().title());
            int row = doc.indexOf("| `" + s.key() + "` |");
            assertTrue(heading >= 0 && row > heading, s.key());
            assertTrue(doc.contains("`" + s.envName() + "`"), s.envName());
        }
    }
}
