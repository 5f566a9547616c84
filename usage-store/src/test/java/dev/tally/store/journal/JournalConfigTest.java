package dev.tally.store.journal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

/** Configuration defaults and validation. */
class JournalConfigTest {
    private static final Path DIR = Path.of("some-dir");

    private static void assertRefused(Consumer<JournalConfig.Builder> change, String knob, String value) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> change.accept(JournalConfig.builder(DIR)));
        assertTrue(e.getMessage().startsWith(knob + " = " + value), e.getMessage());
    }

    /** The builder's defaults are the documented ones. */
    @Test
    void builder_defaults_matchDocumentation() {
        JournalConfig c = JournalConfig.builder(DIR).build();
        assertEquals(DIR, c.dir());
        assertEquals(FsyncPolicy.PER_BATCH, c.fsyncPolicy());
        assertEquals(64L * 1024 * 1024, c.maxJournalBytes());
        assertEquals(Duration.ofHours(1), c.maxJournalAge());
        assertEquals(1024 * 1024, c.maxRecordBytes());
        assertEquals(DIR.resolve("journal").resolve("journal.wal"), c.files().liveFile());
        assertEquals(DIR.resolve("journal").resolve("journal.lock"), c.files().lockFile());
    }

    /** Every bad value is refused with an IllegalArgumentException naming the setting and the value. */
    @Test
    void builder_badValues_refusedNamingKnobAndValue() {
        assertRefused(b -> JournalConfig.builder(null), "dir", "null");
        assertRefused(b -> b.fsyncPolicy(null), "fsyncPolicy", "null");
        assertRefused(b -> b.maxJournalBytes(0), "maxJournalBytes", "0");
        assertRefused(b -> b.maxJournalBytes(1023), "maxJournalBytes", "1023");
        assertRefused(b -> b.maxJournalAge(Duration.ZERO), "maxJournalAge", "PT0S");
        assertRefused(b -> b.maxJournalAge(Duration.ofSeconds(-5)), "maxJournalAge", "PT-5S");
        assertRefused(b -> b.maxJournalAge(null), "maxJournalAge", "null");
        assertRefused(b -> b.maxRecordBytes(10), "maxRecordBytes", "10");
        assertRefused(b -> b.maxRecordBytes(Integer.MAX_VALUE), "maxRecordBytes", String.valueOf(Integer.MAX_VALUE));
        assertRefused(b -> b.clock(null), "clock", "null");
        assertRefused(b -> b.fsyncPolicy(FsyncPolicy.interval(Duration.ZERO)), "fsyncPolicy.interval", "PT0S");
        assertRefused(b -> b.fsyncPolicy(FsyncPolicy.interval(Duration.ofMinutes(5))), "fsyncPolicy.interval", "PT5M");
        assertRefused(b -> b.fsyncPolicy(FsyncPolicy.interval(null)), "fsyncPolicy.interval", "null");
        assertRefused(b -> new JournalConfig(DIR, FsyncPolicy.PER_BATCH, 5, Duration.ofHours(1), 4096,
                Clock.systemUTC()), "maxJournalBytes", "5");
    }

    /** Good values are kept as given. */
    @Test
    void builder_goodValues_kept() {
        JournalConfig c = JournalConfig.builder(DIR).fsyncPolicy(FsyncPolicy.interval(Duration.ofMillis(5)))
                .maxJournalBytes(1024).maxJournalAge(Duration.ofSeconds(1)).maxRecordBytes(256).build();
        assertEquals(new FsyncPolicy.Interval(Duration.ofMillis(5)), c.fsyncPolicy());
        assertEquals(1024, c.maxJournalBytes());
        assertEquals(Duration.ofSeconds(1), c.maxJournalAge());
        assertEquals(256, c.maxRecordBytes());
    }
}
