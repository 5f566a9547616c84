package dev.tally.store.journal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import dev.tally.store.UsageEvent;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** Events, clocks and whole-journal reads shared by the journal tests. */
final class JournalTestSupport {
    static final Instant T0 = Instant.parse("2026-11-20T10:00:00.123456Z");

    private JournalTestSupport() {
    }

    /** A valid event whose data encodes its id, so a record can be checked against its id. */
    static UsageEvent event(String id) {
        return new UsageEvent("acme", id, "llm.request", "key-7", "test", T0,
                "{\"input_tokens\":" + Math.abs(id.hashCode()) + ",\"model\":\"m-1\",\"id_echo\":\"" + id + "\"}");
    }

    /** {@code n} events with ids {@code prefix-0 .. prefix-(n-1)} starting at {@code from}. */
    static List<UsageEvent> batch(String prefix, int from, int n) {
        List<UsageEvent> out = new ArrayList<>(n);
        for (int i = from; i < from + n; i++) {
            out.add(event(prefix + "-" + i));
        }
        return out;
    }

    /** Every record of every source, in import order. */
    static List<JournalRecord> readAll(Path dir) {
        JournalReader reader = new JournalReader(dir);
        List<JournalRecord> all = new ArrayList<>();
        for (JournalSource s : reader.sources()) {
            all.addAll(readFile(reader, s.path()));
        }
        return all;
    }

    /** Every record of one file, read in pages to exercise boundaries. */
    static List<JournalRecord> readFile(JournalReader reader, Path file) {
        List<JournalRecord> all = new ArrayList<>();
        long offset = 0;
        while (true) {
            JournalReadResult r = reader.read(file, offset, 97);
            all.addAll(r.records());
            offset = r.nextOffset();
            if (r.atEnd()) {
                return all;
            }
        }
    }

    /** The events of intact records; fails on any damaged record. */
    static List<UsageEvent> intactEvents(List<JournalRecord> records) {
        List<UsageEvent> out = new ArrayList<>();
        for (JournalRecord r : records) {
            if (r instanceof JournalRecord.Event e) {
                out.add(e.event());
            } else {
                fail("unexpected damaged record: " + r);
            }
        }
        return out;
    }

    /** Asserts that each expected id occurs exactly once, each event equal to {@link #event(String)}. */
    static void assertExactlyOnce(List<UsageEvent> events, List<String> expectedIds) {
        Map<String, Integer> seen = new HashMap<>();
        for (UsageEvent e : events) {
            seen.merge(e.id(), 1, Integer::sum);
            assertEquals(event(e.id()), e, "record content of " + e.id());
        }
        for (String id : expectedIds) {
            assertEquals(1, seen.getOrDefault(id, 0), "occurrences of " + id);
        }
        assertEquals(expectedIds.size(), events.size(), "total records");
    }

    static JournalConfig.Builder config(Path dir) {
        return JournalConfig.builder(dir);
    }
}
