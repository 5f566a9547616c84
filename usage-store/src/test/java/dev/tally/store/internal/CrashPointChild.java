package dev.tally.store.internal;

import dev.tally.store.testing.MutableClock;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;

/**
 * Child-JVM main for the crash-point tests: opens the store in {@code dir} at {@code epochSeconds},
 * and runs {@code action} ({@code seal}: append the first batch, then seal; {@code retention}:
 * move the clock 40 days on, then run retention). At crash point {@code step} it prints
 * {@code AT <step>} and waits to be killed ({@code kill -9}); it never gets past that point.
 *
 * <p>Arguments: {@code dir epochSeconds action step}.
 */
public final class CrashPointChild {
    private CrashPointChild() {
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        MutableClock clock = new MutableClock(Instant.ofEpochSecond(Long.parseLong(args[1])));
        String action = args[2];
        CrashPoint.Step step = CrashPoint.Step.valueOf(args[3]);
        CrashPoint crash = s -> {
            if (s == step) {
                System.out.println("AT " + s);
                System.out.flush();
                try {
                    Thread.sleep(Long.MAX_VALUE); // the parent kills this process here
                } catch (InterruptedException e) {
                    Runtime.getRuntime().halt(3);
                }
            }
        };
        TieredStore store = StoreFixture.open(StoreFixture.config(dir, clock), TieredStore.DEFAULT_HOOKS.withCrash(crash));
        if (action.equals("seal")) {
            store.append(SealCrashTest.firstBatch());
            store.sealNow();
        } else {
            clock.advance(Duration.ofDays(40));
            store.retention(false);
        }
        System.out.println("NOT REACHED " + step);
        System.out.flush();
        Runtime.getRuntime().halt(4);
    }
}
