package dev.tally.store.dedup;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.LongPredicate;

/**
 * Maps the key hash ({@code KeyHash}: XXH64 of {@code tenant \0 id}) of every stored event to the sequence number of the segment that
 * holds it, so an append checks for duplicates with one memory probe per event, whatever the
 * size of the archive. A hit is only a candidate: the caller confirms it against the stored
 * tenant and id in that one segment (or the parts sealed from it). Two different keys whose
 * entries collide in different segments turn the entry into {@link #AMBIGUOUS}, which makes the
 * caller confirm against every segment.
 *
 * <h2>Layout: 8 bytes a slot, sharded</h2>
 * The 64-bit key hash is split three ways: its top {@value #SHARD_BITS} bits pick one of
 * {@value #SHARDS} shards; the next {@value #FP_BITS} bits are the <em>fingerprint</em> stored in
 * the slot and also place it (home slot = fingerprint scaled to the shard's capacity); the slot's
 * low {@value #REF_BITS} bits hold the segment sequence modulo {@link #SEQ_SPAN}. One {@code long}
 * per slot, open addressing with linear probing, deletion by backward shift (no tombstones).
 *
 * <ul>
 *   <li><b>Flat probes.</b> Homes are spread over the whole shard whatever its size (the earlier
 *       index took 24 bits of hash for the home and fell into one endless cluster past 2^24
 *       keys); load stays between {@value #MIN_LOAD_PERCENT}% and {@value #MAX_LOAD_PERCENT}%, so
 *       a probe reads one or two cache lines at 1M keys and at 1B.</li>
 *   <li><b>Bounded pauses.</b> Each shard grows by half on its own, so a growth step rehashes
 *       1/{@value #SHARDS} of the keys (about 1M at 1B keys) instead of all of them under one
 *       lock.</li>
 *   <li><b>Memory.</b> 8 bytes per slot at 47–70% load: 11.4 to 17 bytes per key, about 13.5 on
 *       average, all on the heap in long arrays of at most a few hundred MB each (no object per
 *       key, nothing for the collector to trace). No off-heap memory.</li>
 *   <li><b>False candidates.</b> Two keys match when their shard and 40-bit fingerprint agree:
 *       about one false candidate per 2^40 probes of a full shard's run, each costing one confirm
 *       query and never a lost event, since a candidate is always confirmed.</li>
 *   <li><b>Sequence range.</b> A slot keeps the segment sequence modulo {@link #SEQ_SPAN}; it is
 *       resolved to the one sequence in {@code (newest - SEQ_SPAN, newest]}. The store keeps its
 *       live segments within that span (16.7M segments).</li>
 * </ul>
 *
 * <p>Thread-safe: each shard has its own lock, held for one operation on that shard (a growth
 * or a purge of it included). Lock order: the store's write gate, then a shard lock; never two
 * shard locks at once.
 */
public final class DedupIndex {
    /** Not in the index. */
    public static final long ABSENT = 0;
    /** Several segments hold keys with this fingerprint; check them all. */
    public static final long AMBIGUOUS = -1;

    static final int SHARD_BITS = 10;
    static final int SHARDS = 1 << SHARD_BITS;
    static final int FP_BITS = 40;
    static final int REF_BITS = 24;
    /** How many consecutive segment sequences the index can tell apart. */
    public static final long SEQ_SPAN = (1L << REF_BITS) - 1;
    private static final long REF_MASK = (1L << REF_BITS) - 1;
    /** The reference value reserved for {@link #AMBIGUOUS}; {@code seq % SEQ_SPAN} never reaches it. */
    private static final long REF_AMBIGUOUS = REF_MASK;
    private static final long FP_MASK = (1L << FP_BITS) - 1;
    static final int MAX_LOAD_PERCENT = 70;
    static final int MIN_LOAD_PERCENT = 47;
    private static final int MIN_SHARD_CAPACITY = 16;
    /** From this many keys on, {@link #putAll} groups them by shard first. */
    private static final int GROUPED_PUT_MIN = 32 * SHARDS;

    private final Shard[] shards = new Shard[SHARDS];
    /** Highest sequence ever put; resolves slot references. */
    private final AtomicLong newestSeq = new AtomicLong();

    /** An index sized for about {@code expected} keys (it grows past that as needed). */
    public DedupIndex(long expected) {
        int cap = capacityFor(Math.max(0, expected) / SHARDS + 1);
        for (int i = 0; i < SHARDS; i++) {
            shards[i] = new Shard(cap);
        }
    }

    private static int capacityFor(long keys) {
        long cap = Math.max(MIN_SHARD_CAPACITY, keys * 100 / 60 + 1);
        if (cap > Integer.MAX_VALUE - 8) {
            throw new IllegalStateException("dedup index shard would need " + cap + " slots");
        }
        return (int) cap;
    }

    private static Shard shardOf(Shard[] shards, long key) {
        return shards[(int) (key >>> (64 - SHARD_BITS))];
    }

    /** The fingerprint stored for {@code key}; never zero, so an empty slot is {@code 0L}. */
    static long fingerprint(long key) {
        // Bits below the shard's: the shard bits are the same for every key of a shard.
        long fp = (key >>> (64 - SHARD_BITS - FP_BITS)) & FP_MASK;
        return fp == 0 ? 1 : fp;
    }

    private static int home(long fp, int cap) {
        // Lemire's multiply-shift: the top 32 fingerprint bits scaled to [0, cap).
        return (int) (((fp >>> (FP_BITS - 32)) * cap) >>> 32);
    }

    /**
     * The segment holding {@code key}, {@link #ABSENT}, or {@link #AMBIGUOUS}. A returned sequence
     * is a candidate only.
     */
    public long get(long key) {
        Shard s = shardOf(shards, key);
        long fp = fingerprint(key);
        long ref;
        s.lock.lock();
        try {
            ref = s.find(fp);
        } finally {
            s.lock.unlock();
        }
        if (ref < 0) {
            return ABSENT;
        }
        return ref == REF_AMBIGUOUS ? AMBIGUOUS : resolve(ref);
    }

    /** Slots {@link #get} reads for {@code key}: 1 for an empty home slot; for tests and benchmarks. */
    public int probeLength(long key) {
        Shard s = shardOf(shards, key);
        long fp = fingerprint(key);
        s.lock.lock();
        try {
            return s.probes(fp);
        } finally {
            s.lock.unlock();
        }
    }

    private long resolve(long ref) {
        long newest = newestSeq.get();
        return newest - Math.floorMod(newest - ref, SEQ_SPAN);
    }

    private long refOf(long seq) {
        if (seq <= 0) {
            throw new IllegalArgumentException("segment sequence must be positive: " + seq);
        }
        long newest = newestSeq.accumulateAndGet(seq, Math::max);
        if (newest - seq >= SEQ_SPAN) {
            throw new IllegalStateException("segment " + seq + " is " + (newest - seq)
                    + " sequences behind the newest (" + newest + "); the dedup index tells apart at most "
                    + SEQ_SPAN);
        }
        return seq % SEQ_SPAN;
    }

    /** Records that segment {@code seq} holds an event with this key hash. */
    public void put(long key, long seq) {
        putOne(key, refOf(seq));
    }

    private void putOne(long key, long ref) {
        Shard s = shardOf(shards, key);
        s.lock.lock();
        try {
            s.put(fingerprint(key), ref);
        } finally {
            s.lock.unlock();
        }
    }

    /**
     * Records many keys for one segment. A large batch is grouped by shard first (a counting sort
     * on the shard bits), so each shard is locked once and filled while its slots are in cache:
     * a reopen loads its keys this way several times faster than one random probe each.
     */
    public void putAll(long[] hashes, int count, long seq) {
        long ref = refOf(seq);
        if (count >= GROUPED_PUT_MIN) {
            putGrouped(hashes, count, ref);
            return;
        }
        for (int i = 0; i < count; i++) {
            putOne(hashes[i], ref);
        }
    }

    private void putGrouped(long[] hashes, int count, long ref) {
        int[] start = new int[SHARDS + 1];
        for (int i = 0; i < count; i++) {
            start[(int) (hashes[i] >>> (64 - SHARD_BITS)) + 1]++;
        }
        for (int i = 0; i < SHARDS; i++) {
            start[i + 1] += start[i];
        }
        long[] grouped = new long[count];
        int[] next = java.util.Arrays.copyOf(start, SHARDS);
        for (int i = 0; i < count; i++) {
            long key = hashes[i];
            grouped[next[(int) (key >>> (64 - SHARD_BITS))]++] = key;
        }
        for (int sh = 0; sh < SHARDS; sh++) {
            if (start[sh] == start[sh + 1]) {
                continue;
            }
            Shard s = shards[sh];
            s.lock.lock();
            try {
                for (int i = start[sh]; i < start[sh + 1]; i++) {
                    s.put(fingerprint(grouped[i]), ref);
                }
            } finally {
                s.lock.unlock();
            }
        }
    }

    /**
     * Grows the shards ahead of a bulk load of about {@code total} keys, so the load does not
     * rehash as it goes.
     */
    public void reserve(long total) {
        int cap = capacityFor(Math.max(0, total) / SHARDS + 1);
        for (Shard s : shards) {
            s.lock.lock();
            try {
                if (s.slots.length < cap && s.size * 100L < (long) cap * MAX_LOAD_PERCENT) {
                    s.rehash(cap);
                }
            } finally {
                s.lock.unlock();
            }
        }
    }

    /**
     * Removes the entries of segments that no longer hold detail, one shard at a time, so an
     * append waits at most for one shard's scan. Ambiguous entries are kept (a stale entry is
     * only a candidate that the confirmation rejects).
     *
     * @return how many entries were removed
     */
    public long purge(LongPredicate deadSeq) {
        long removed = 0;
        for (Shard s : shards) {
            s.lock.lock();
            try {
                removed += s.purge(ref -> ref != REF_AMBIGUOUS && deadSeq.test(resolve(ref)));
            } finally {
                s.lock.unlock();
            }
        }
        return removed;
    }

    public long size() {
        long n = 0;
        for (Shard s : shards) {
            s.lock.lock();
            try {
                n += s.size;
            } finally {
                s.lock.unlock();
            }
        }
        return n;
    }

    /** Heap bytes held by the slots, for metrics. */
    public long memoryBytes() {
        long slots = 0;
        for (Shard s : shards) {
            s.lock.lock();
            try {
                slots += s.slots.length;
            } finally {
                s.lock.unlock();
            }
        }
        return slots * Long.BYTES;
    }

    /**
     * One open-addressing table. Slot: {@code fingerprint << REF_BITS | ref}; {@code 0} is empty.
     * Not thread-safe: guarded by {@link #lock}.
     */
    private static final class Shard {
        final ReentrantLock lock = new ReentrantLock();
        long[] slots;
        int size;

        Shard(int cap) {
            slots = new long[cap];
        }

        /** The reference stored for {@code fp}, or -1. */
        long find(long fp) {
            long[] t = slots;
            int cap = t.length;
            for (int i = home(fp, cap); ; i = i + 1 == cap ? 0 : i + 1) {
                long slot = t[i];
                if (slot == 0) {
                    return -1;
                }
                if (slot >>> REF_BITS == fp) {
                    return slot & REF_MASK;
                }
            }
        }

        int probes(long fp) {
            long[] t = slots;
            int cap = t.length;
            int n = 1;
            for (int i = home(fp, cap); ; i = i + 1 == cap ? 0 : i + 1, n++) {
                long slot = t[i];
                if (slot == 0 || slot >>> REF_BITS == fp) {
                    return n;
                }
            }
        }

        void put(long fp, long ref) {
            if ((size + 1) * 100L > (long) slots.length * MAX_LOAD_PERCENT) {
                rehash(capacityFor((long) slots.length * 3 / 2 * 60 / 100));
            }
            insert(fp, ref);
        }

        private void insert(long fp, long ref) {
            long[] t = slots;
            int cap = t.length;
            for (int i = home(fp, cap); ; i = i + 1 == cap ? 0 : i + 1) {
                long slot = t[i];
                if (slot == 0) {
                    t[i] = fp << REF_BITS | ref;
                    size++;
                    return;
                }
                if (slot >>> REF_BITS == fp) {
                    if ((slot & REF_MASK) != ref) {
                        t[i] = fp << REF_BITS | REF_AMBIGUOUS;
                    }
                    return;
                }
            }
        }

        void rehash(int cap) {
            long[] old = slots;
            slots = new long[cap];
            size = 0;
            for (long slot : old) {
                if (slot != 0) {
                    insert(slot >>> REF_BITS, slot & REF_MASK);
                }
            }
        }

        long purge(LongPredicate deadRef) {
            long removed = 0;
            long[] t = slots;
            for (int i = 0; i < t.length; i++) {
                // A backward shift may move a later entry into i: test the slot again.
                while (t[i] != 0 && deadRef.test(t[i] & REF_MASK)) {
                    delete(i);
                    removed++;
                }
            }
            return removed;
        }

        /** Backward-shift deletion: entries after the hole move up unless that passes their home. */
        private void delete(int hole) {
            long[] t = slots;
            int cap = t.length;
            t[hole] = 0;
            size--;
            int i = hole;
            for (int j = i + 1 == cap ? 0 : i + 1; t[j] != 0; j = j + 1 == cap ? 0 : j + 1) {
                int k = home(t[j] >>> REF_BITS, cap);
                // Move j to i when its home k is not cyclically within (i, j].
                int distHome = j - k < 0 ? j - k + cap : j - k;
                int distHole = j - i < 0 ? j - i + cap : j - i;
                if (distHome >= distHole) {
                    t[i] = t[j];
                    t[j] = 0;
                    i = j;
                }
            }
        }
    }
}
