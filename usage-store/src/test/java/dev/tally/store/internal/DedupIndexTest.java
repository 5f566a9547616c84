package dev.tally.store.internal;

import dev.tally.store.dedup.DedupIndex;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class DedupIndexTest {
    /** Random puts, growth and purges agree with a plain map, including ambiguous entries. */
    @Test
    void putGetPurge_matchesReferenceMap() {
        DedupIndex index = new DedupIndex(16);
        Map<Long, Long> ref = new HashMap<>();
        SplittableRandom r = new SplittableRandom(42);
        long[] universe = new long[150_000];
        for (int i = 0; i < universe.length; i++) {
            universe[i] = r.nextLong();
        }
        for (int i = 0; i < 200_000; i++) {
            long key = universe[r.nextInt(universe.length)]; // forces repeats
            long seq = 1 + r.nextInt(20);
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

    /**
     * Well past 2^24 keys (where the earlier index fell into one endless probe run) inserts finish
     * and probes stay short, for keys present and absent alike.
     */
    @Test
    void put_wellPast2To24Keys_probeLengthsStayBounded() {
        int n = 24_000_000; // 1.43 x 2^24
        DedupIndex index = new DedupIndex(1 << 16); // grows all the way, as a store does
        SplittableRandom r = new SplittableRandom(7);
        long[] batch = new long[10_000];
        assertTimeoutPreemptively(Duration.ofSeconds(600), () -> {
            for (int done = 0; done < n; done += batch.length) {
                for (int i = 0; i < batch.length; i++) {
                    batch[i] = r.nextLong();
                }
                index.putAll(batch, batch.length, 1 + done / 1_000_000);
            }
        });
        assertEquals(n, index.size(), 1_000); // a few fingerprint collisions merge, nothing more
        SplittableRandom present = new SplittableRandom(7);
        SplittableRandom absent = new SplittableRandom(99);
        long sumHit = 0;
        long sumMiss = 0;
        int maxMiss = 0;
        int samples = 200_000;
        for (int i = 0; i < samples; i++) {
            sumHit += index.probeLength(present.nextLong());
            int miss = index.probeLength(absent.nextLong());
            sumMiss += miss;
            maxMiss = Math.max(maxMiss, miss);
        }
        double meanHit = (double) sumHit / samples;
        double meanMiss = (double) sumMiss / samples;
        // Linear probing at <= 70% load: about 2.2 slots for a hit and 6 for a miss on average.
        assertTrue(meanHit < 3, "mean probe length of a hit " + meanHit);
        assertTrue(meanMiss < 8, "mean probe length of a miss " + meanMiss);
        assertTrue(maxMiss < 400, "longest probe of a miss " + maxMiss);
        long bytesPerKey = index.memoryBytes() / n;
        assertTrue(bytesPerKey <= 18, "bytes per key " + bytesPerKey);
    }

    /** Sequences far apart resolve to themselves; one older than the span is refused, not aliased. */
    @Test
    void put_sequencesAcrossTheSpan_resolveExactlyOrAreRefused() {
        DedupIndex index = new DedupIndex(16);
        long a = KeyHash.of("t", "a");
        long b = KeyHash.of("t", "b");
        index.put(a, 5);
        index.put(b, DedupIndex.SEQ_SPAN + 4);
        assertEquals(5, index.get(a));
        assertEquals(DedupIndex.SEQ_SPAN + 4, index.get(b));
        assertThrows(IllegalStateException.class, () -> index.put(KeyHash.of("t", "c"), 4));
        long d = KeyHash.of("t", "d");
        index.put(d, 1 + DedupIndex.SEQ_SPAN * 3);
        assertEquals(1 + DedupIndex.SEQ_SPAN * 3, index.get(d));
    }

    /** An entry of one segment that another segment's key collides with becomes ambiguous. */
    @Test
    void put_sameKeyTwoSegments_isAmbiguous() {
        DedupIndex index = new DedupIndex(16);
        index.put(0x1234_5678_9ABC_DEF0L, 3);
        index.put(0x1234_5678_9ABC_DEF0L, 3);
        assertEquals(3, index.get(0x1234_5678_9ABC_DEF0L));
        index.put(0x1234_5678_9ABC_DEF0L, 4);
        assertEquals(DedupIndex.AMBIGUOUS, index.get(0x1234_5678_9ABC_DEF0L));
        assertEquals(0, index.purge(seq -> true));
    }
}
