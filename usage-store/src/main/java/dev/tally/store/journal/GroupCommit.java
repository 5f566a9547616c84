package dev.tally.store.journal;

import dev.tally.store.StoreException;
import java.io.IOException;
import java.nio.channels.FileLock;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Group commit of journal appends (the append protocol of {@link Journal}): callers queue their
 * encoded batch; the one that takes the in-JVM lock while its batch is still queued leads, drains
 * the queue, takes the file lock and hands the whole group to {@link LiveJournal#writeGroup} as one
 * write; followers wait until their batch is done or lead the next group.
 *
 * <p>Thread-safe. The queue is lock-free and the counters atomic; a group is drained and completed
 * under the in-JVM lock and then the file lock, in that order; followers wait on the lock handle's
 * monitor, which is never held while taking either lock.
 */
final class GroupCommit {
    private static final Logger LOG = LoggerFactory.getLogger(GroupCommit.class);

    private final JournalLocks.Handle locks;
    private final LiveJournal live;
    private final ConcurrentLinkedQueue<Pending> queue = new ConcurrentLinkedQueue<>();
    private final LongAdder appends = new LongAdder();
    private final LongAdder events = new LongAdder();
    /** Set under the in-JVM lock once the last group was written; later groups fail. */
    private volatile boolean closed;

    GroupCommit(JournalLocks.Handle locks, LiveJournal live) {
        this.locks = locks;
        this.live = live;
    }

    /**
     * Queues one batch's records and returns once a group holding them is written (and forced under
     * {@link FsyncPolicy#PER_BATCH}).
     *
     * @throws StoreException if the group's write or fsync failed, or the journal is closed or failed
     */
    void write(byte[] records, int count) {
        Pending p = new Pending(records, count);
        queue.add(p);
        ReentrantLock l = locks.jvmLock();
        boolean interrupted = false;
        while (!p.done) {
            if (l.tryLock()) {
                try {
                    if (!p.done) {
                        commitQueued(); // leader: writes every queued batch, ours included
                    }
                } finally {
                    l.unlock();
                    locks.signalGroupDone();
                }
            } else {
                // Follower: a leader is writing; ours is done by it or we lead the next group.
                interrupted |= locks.awaitGroupDone(() -> p.done);
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
        if (p.error != null) {
            throw new StoreException("journal append of " + count + " event(s) failed: " + p.error.getMessage(),
                    p.error);
        }
    }

    /** Writes what is still queued, then fails every later group. Caller holds the in-JVM lock. */
    void drainAndClose() {
        commitQueued();
        closed = true;
    }

    boolean closed() {
        return closed;
    }

    long appends() {
        return appends.sum();
    }

    long events() {
        return events.sum();
    }

    /** Batches queued and not yet taken by a leader. */
    int queued() {
        return queue.size();
    }

    /** Writes every queued batch as one group. Caller holds the in-JVM lock. */
    private void commitQueued() {
        List<Pending> group = new ArrayList<>();
        List<byte[]> records = new ArrayList<>();
        long total = 0;
        for (Pending q; (q = queue.poll()) != null; ) {
            group.add(q);
            records.add(q.bytes);
            total += q.bytes.length;
        }
        if (group.isEmpty()) {
            return;
        }
        Throwable error = null;
        boolean interrupted = Thread.interrupted(); // an interrupt would close the channels mid-write
        try {
            if (closed) {
                throw new StoreException("journal is closed");
            }
            Throwable failure = live.failure();
            if (failure != null) {
                throw new StoreException("journal failed earlier: " + failure.getMessage(), failure);
            }
            FileLock fileLock = locks.lockFile();
            try {
                live.writeGroup(records, total);
            } finally {
                releaseQuietly(fileLock);
            }
        } catch (Throwable e) { // every batch of the group must be completed, whatever happened
            error = e;
            live.forgetKnownState();
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
        for (Pending q : group) {
            q.error = error;
            q.done = true;
        }
        if (error == null) {
            appends.add(group.size());
            for (Pending q : group) {
                events.add(q.events);
            }
        } else if (error instanceof Error fatal) {
            throw fatal;
        }
    }

    /** Releases a file lock; a failure means its channel is closed, which released it anyway. */
    static void releaseQuietly(FileLock lock) {
        if (lock == null) {
            return; // switched off by a mutation test
        }
        try {
            lock.release();
        } catch (IOException e) {
            LOG.debug("journal lock release failed (the channel is closed, which released it): {}", e.toString());
        }
    }

    /** One caller's encoded batch. Completed by the leader under the in-JVM lock. */
    private static final class Pending {
        final byte[] bytes;
        final int events;
        volatile boolean done;
        volatile Throwable error;

        Pending(byte[] bytes, int events) {
            this.bytes = bytes;
            this.events = events;
        }
    }
}
