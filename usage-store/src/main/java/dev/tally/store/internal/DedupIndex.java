package dev.tally.store.internal;

import java.util.concurrent.locks.ReentrantLock;
import java.util.function.IntPredicate;

/**
 * Maps the {@link KeyHash} of every stored event to the sequence number of the segment that
 * holds it, so an append checks for duplicates with one memory probe per event, whatever the
 * size of the archive. A hit is only a candidate: the caller confirms it against the stored
 * tenant and id in that one segment. Two different keys with the same hash in different
 * segments turn the entry into {@link #AMBIGUOUS}, which makes the caller confirm against every
 * segment.
 *
 * <p>Open addressing with linear probing over two parallel arrays (12 bytes a slot, load at most
 * 0.7); deletion is by backward shift, so there are no tombstones.
 *
 * <p>Thread-safe: every method takes {@link #lock}. Lock order: the store's write gate, then this
 * lock; retention's purge takes only this lock, in short chunks.
 */
public final class DedupIndex {
    /** Not in the index. */
    public static final int ABSENT = 0;
    /** Several segments hold keys with this hash; check them all. */
    public static final int AMBIGUOUS = -1;

    private static final int PURGE_CHUNK = 1 << 16;

    private final ReentrantLock lock = new ReentrantLock();
    private long[] keys;
    private int[] seqs;
    private int size;
    private int mask;

    public DedupIndex(int expected) {
        int cap = Integer.highestOneBit(Math.max(16, (int) Math.min(1 << 30, expected / 0.7 + 1)) - 1) << 1;
        allocate(cap);
    }

    private void allocate(int cap) {
        keys = new long[cap];
        seqs = new int[cap];
        mask = cap - 1;
        size = 0;
    }

    private int home(long key) {
        return (int) ((key * 0x9E3779B97F4A7C15L) >>> 40) & mask;
    }

    /** The segment holding {@code key}, {@link #ABSENT}, or {@link #AMBIGUOUS}. */
    public int get(long key) {
        lock.lock();
        try {
            for (int i = home(key); ; i = (i + 1) & mask) {
                int s = seqs[i];
                if (s == ABSENT) {
                    return ABSENT;
                }
                if (keys[i] == key) {
                    return s;
                }
            }
        } finally {
            lock.unlock();
        }
    }

    /** Records that segment {@code seq} holds an event with this key hash. */
    public void put(long key, int seq) {
        if (seq <= 0) {
            throw new IllegalArgumentException("segment sequence must be positive: " + seq);
        }
        lock.lock();
        try {
            putLocked(key, seq);
        } finally {
            lock.unlock();
        }
    }

    /** Records many keys for one segment under one lock acquisition. */
    public void putAll(long[] hashes, int count, int seq) {
        lock.lock();
        try {
            for (int i = 0; i < count; i++) {
                putLocked(hashes[i], seq);
            }
        } finally {
            lock.unlock();
        }
    }

    private void putLocked(long key, int seq) {
        if (size + 1 > (long) (keys.length * 0.7)) {
            grow();
        }
        for (int i = home(key); ; i = (i + 1) & mask) {
            int s = seqs[i];
            if (s == ABSENT) {
                keys[i] = key;
                seqs[i] = seq;
                size++;
                return;
            }
            if (keys[i] == key) {
                if (s != seq) {
                    seqs[i] = AMBIGUOUS;
                }
                return;
            }
        }
    }

    private void grow() {
        long[] oldKeys = keys;
        int[] oldSeqs = seqs;
        allocate(oldKeys.length << 1);
        for (int i = 0; i < oldKeys.length; i++) {
            if (oldSeqs[i] != ABSENT) {
                putLocked(oldKeys[i], oldSeqs[i]);
            }
        }
    }

    /**
     * Removes the entries of segments that no longer hold detail. Works in chunks so an append
     * waits at most one chunk; an entry moved across a chunk boundary by a concurrent shift may
     * survive until the next purge, which is harmless (a stale entry is confirmed and misses).
     * Ambiguous entries are kept.
     *
     * @return how many entries were removed
     */
    public long purge(IntPredicate deadSeq) {
        long removed = 0;
        for (int start = 0; ; start += PURGE_CHUNK) {
            lock.lock();
            try {
                if (start >= keys.length) {
                    return removed;
                }
                int end = Math.min(keys.length, start + PURGE_CHUNK);
                for (int i = start; i < end; i++) {
                    while (seqs[i] > 0 && deadSeq.test(seqs[i])) {
                        deleteSlot(i);
                        removed++;
                    }
                }
            } finally {
                lock.unlock();
            }
        }
    }

    private void deleteSlot(int hole) {
        seqs[hole] = ABSENT;
        size--;
        int i = hole;
        for (int j = (i + 1) & mask; seqs[j] != ABSENT; j = (j + 1) & mask) {
            int k = home(keys[j]);
            boolean stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
            if (!stays) {
                keys[i] = keys[j];
                seqs[i] = seqs[j];
                seqs[j] = ABSENT;
                i = j;
            }
        }
    }

    public int size() {
        lock.lock();
        try {
            return size;
        } finally {
            lock.unlock();
        }
    }

    /** Approximate heap bytes held, for metrics. */
    public long memoryBytes() {
        lock.lock();
        try {
            return (long) keys.length * 12;
        } finally {
            lock.unlock();
        }
    }
}
