package dev.tally.store.internal;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * A resource that readers pin while they use it. It starts with one reference, held by its
 * creator; {@link #tryRetain()} fails once the count reached zero, so a reader can never revive
 * a resource whose cleanup has begun.
 *
 * <p>Thread-safe: lock-free.
 */
abstract class RefCounted {
    private final AtomicInteger refs = new AtomicInteger(1);

    final boolean tryRetain() {
        for (;;) {
            int r = refs.get();
            if (r == 0) {
                return false;
            }
            if (refs.compareAndSet(r, r + 1)) {
                return true;
            }
        }
    }

    final void retain() {
        if (!tryRetain()) {
            throw new IllegalStateException(this + " was already released");
        }
    }

    final void release() {
        int r = refs.decrementAndGet();
        if (r == 0) {
            onLastRelease();
        } else if (r < 0) {
            throw new IllegalStateException(this + " released more often than retained");
        }
    }

    final int refCount() {
        return refs.get();
    }

    /** Runs once, on the thread that dropped the last reference. */
    protected abstract void onLastRelease();
}
