package dev.tally.store.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

class DedupIndexTest {
    /** Random puts, growth and purges agree with a plain map, including ambiguous entries. */
    @Test
    void putGetPurge_matchesReferenceMap() {
        DedupIndex index = new DedupIndex(16);
        Map<Long, Integer> ref = new HashMap<>();
        Random r = new Random(42);
        for (int i = 0; i < 200_000; i++) {
            long key = r.nextInt(150_000) * 0x9E3779B97F4A7C15L; // forces repeats and clustering
            int seq = 1 + r.nextInt(20);
            index.put(key, seq);
            ref.merge(key, seq, (old, now) -> old.equals(now) ? old : DedupIndex.AMBIGUOUS);
        }
        assertEquals(ref.size(), index.size());
        ref.forEach((k, v) -> assertEquals(v, index.get(k)));
        int before = ref.size();
        long removed = index.purge(seq -> seq % 3 == 0);
        ref.values().removeIf(seq -> seq > 0 && seq % 3 == 0);
        assertEquals(before - ref.size(), removed);
        assertEquals(ref.size(), index.size());
        ref.forEach((k, v) -> assertEquals(v, index.get(k)));
        for (int i = 0; i < 10_000; i++) {
            long key = r.nextLong();
            if (!ref.containsKey(key)) {
                assertEquals(DedupIndex.ABSENT, index.get(key));
            }
        }
    }
}
