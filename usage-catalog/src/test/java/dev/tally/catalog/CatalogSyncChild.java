package dev.tally.catalog;

import dev.tally.store.UsageStore;
import dev.tally.store.testing.MutableClock;
import dev.tally.store.testing.TestEvents;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Child-JVM main for {@link CatalogCrashTest}: runs one store pass in {@code dir} at
 * {@code epochSeconds} ({@code seal}: append a batch and seal; {@code compact}: compact every
 * closed day; {@code retention}: run retention; {@code none}: the parent ran it, which spares the
 * child DuckDB's start), closes the store, then syncs the catalog. At
 * catalog crash point {@code step} it prints {@code AT <step>} and waits to be killed
 * ({@code kill -9}); it never gets past that point. {@code step#n} stops at the n-th time the sync
 * reaches the step ({@code catalog.metadata-written#2}: the second table's new metadata file).
 *
 * <p>Arguments: {@code dir epochSeconds action step [jdbcUri namespace]} (without a URI, the
 * SQLite catalog in {@code dir}).
 */
public final class CatalogSyncChild {
    private CatalogSyncChild() {
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        Instant now = Instant.ofEpochSecond(Long.parseLong(args[1]));
        String action = args[2];
        String step = args[3].contains("#") ? args[3].substring(0, args[3].indexOf('#')) : args[3];
        int nth = args[3].contains("#") ? Integer.parseInt(args[3].substring(args[3].indexOf('#') + 1)) : 1;
        AtomicInteger seen = new AtomicInteger();
        MutableClock clock = new MutableClock(now);
        if (!action.equals("none")) {
            pass(dir, clock, now, action);
        }
        CatalogCrashPoint crash = s -> {
            if (s.equals(step) && seen.incrementAndGet() == nth) {
                System.out.println("AT " + args[3]);
                System.out.flush();
                try {
                    Thread.sleep(Long.MAX_VALUE); // the parent kills this process here
                } catch (InterruptedException e) {
                    Runtime.getRuntime().halt(3);
                }
            }
        };
        CatalogSettings settings = args.length > 4
                ? PostgresCatalogTest.settings(dir, args[4], args[5]) : CatalogSettings.defaults(dir);
        try (CatalogSync sync = CatalogSync.open(dir, settings, crash)) {
            sync.sync();
        }
        System.out.println("NOT REACHED " + step);
        System.out.flush();
        Runtime.getRuntime().halt(4);
    }

    private static void pass(Path dir, MutableClock clock, Instant now, String action) {
        try (UsageStore store = CatalogStores.open(dir, clock)) {
            switch (action) {
                case "seal" -> {
                    store.append(TestEvents.batch("acme", "c", 400, 7, now, Duration.ofDays(3), 11));
                    store.sealNow();
                }
                case "compact" -> store.compact(true);
                case "retention" -> store.retention(false);
                default -> throw new IllegalArgumentException(action);
            }
        }
    }
}
