package dev.tally.store.verify;

import dev.tally.store.dlq.DeadLetter;
import dev.tally.store.dlq.DeadLetterQueue;
import dev.tally.store.ingest.JournalImporter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;

/**
 * Verify's view of the dead-letter queue and its dead file, indexed by where each line came from.
 * A journal entry names the file as it was called when read ({@code journal/journal.wal} before a
 * rotation), so journal entries are matched by offset and content within the whole journal
 * family; spool entries by exact source, offset and content. The queue is read twice per run
 * (before and after the store snapshot) and the reads are united, so an entry a concurrent
 * replay moves into the store cannot fall between them unseen.
 *
 * <p>Not thread-safe: confined to one run's thread. Holds no lock (reads the queue report-only).
 */
final class DeadLetterIndex {
    private final Map<Long, List<DeadLetter>> journal = new HashMap<>();
    private final Map<String, Map<Long, List<DeadLetter>>> spool = new HashMap<>();
    private final Set<String> keys = new HashSet<>();

    /** Adds every entry of the queue and its dead file (report-only); entries already seen are skipped. */
    void addQueue(Path dataDir) {
        DeadLetterQueue q = DeadLetterQueue.open(dataDir, true);
        q.list().forEach(this::add);
        q.listDead().forEach(this::add);
    }

    private void add(DeadLetter d) {
        if (!keys.add(d.key())) {
            return;
        }
        if (d.source().startsWith(JournalImporter.DEAD_LETTER_PREFIX)) {
            journal.computeIfAbsent(d.offset(), k -> new ArrayList<>()).add(d);
        } else {
            spool.computeIfAbsent(d.source(), k -> new HashMap<>()).computeIfAbsent(d.offset(),
                    k -> new ArrayList<>()).add(d);
        }
    }

    /** Whether a journal line at {@code offset} (any file of the family) was dead-lettered with this content. */
    boolean journal(long offset, Supplier<byte[]> content) {
        List<DeadLetter> at = journal.get(offset);
        return at != null && matches(at, content.get());
    }

    /** Whether the spool line of {@code source} at {@code offset} was dead-lettered with this content. */
    boolean spool(String source, long offset, byte[] content) {
        Map<Long, List<DeadLetter>> m = spool.get(source);
        List<DeadLetter> at = m == null ? null : m.get(offset);
        return at != null && matches(at, content);
    }

    /** Whether an entry keeps the same bytes (as far as both kept them). */
    private static boolean matches(List<DeadLetter> entries, byte[] content) {
        for (DeadLetter d : entries) {
            byte[] kept = d.originalBytes();
            int n = Math.min(kept.length, content.length);
            if (Arrays.equals(kept, 0, n, content, 0, n) && (n > 0 || kept.length == content.length)) {
                return true;
            }
        }
        return false;
    }
}
