package dev.tally.catalog;

import dev.tally.store.UsageStore;
import dev.tally.store.testing.MutableClock;
import dev.tally.store.testing.TestEvents;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;

/**
 * Child-JVM main for {@link SqliteConcurrentSyncTest}: one worker's store in {@code dir}, which
 * prints {@code READY}, waits for a line on standard input (so the parent starts all children's
 * commits at once), then {@code rounds} times appends a batch of {@code tenant}, seals and syncs
 * into the shared catalog, and prints {@code DONE}. A failed sync exits with status 2.
 *
 * <p>Arguments: {@code dir tenant rounds jdbcUri warehouse}.
 */
public final class ConcurrentSyncChild {
    private ConcurrentSyncChild() {
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        String tenant = args[1];
        int rounds = Integer.parseInt(args[2]);
        CatalogSettings settings = CatalogSettings.defaults(dir).withUri(args[3], null, null)
                .withWarehouse(Path.of(args[4]));
        MutableClock clock = new MutableClock(CatalogStores.NOW);
        try (UsageStore store = CatalogStores.open(dir, clock);
                CatalogSync sync = CatalogSync.open(dir, settings)) {
            System.out.println("READY");
            System.out.flush();
            new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)).readLine();
            for (int r = 0; r < rounds; r++) {
                store.append(TestEvents.batch(tenant, "r" + r, 100, 4, CatalogStores.NOW, Duration.ofDays(3), r));
                store.sealNow();
                sync.sync();
            }
        } catch (Exception e) {
            e.printStackTrace();
            System.out.println("FAILED " + e);
            System.out.flush();
            Runtime.getRuntime().halt(2);
        }
        System.out.println("DONE");
        System.out.flush();
    }
}
