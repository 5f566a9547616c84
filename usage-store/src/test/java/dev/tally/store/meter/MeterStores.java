package dev.tally.store.meter;

import dev.tally.store.UsageStore;
import dev.tally.store.testing.MutableClock;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/** Opens real stores on a temp directory with a hand-moved clock and a seal executor the test drives. */
final class MeterStores {
    private MeterStores() {
    }

    /** Seal tasks queued by size-triggered rollovers; run them with {@link #runAll()} or never (pending segments). */
    static final class ManualExecutor implements java.util.concurrent.Executor {
        final List<Runnable> tasks = new ArrayList<>();

        @Override
        public synchronized void execute(Runnable r) {
            tasks.add(r);
        }

        synchronized void runAll() {
            List<Runnable> now = new ArrayList<>(tasks);
            tasks.clear();
            now.forEach(Runnable::run);
        }
    }

    static UsageStore open(Path dir, MutableClock clock) {
        return UsageStore.builder(dir).clock(clock).sealExecutor(Runnable::run).build();
    }

    static UsageStore open(Path dir, MutableClock clock, ManualExecutor seals, long maxSegmentBytes) {
        return UsageStore.builder(dir).clock(clock).sealExecutor(seals).maxSegmentBytes(maxSegmentBytes)
                .detailRetention(Duration.ofDays(35)).build();
    }
}
