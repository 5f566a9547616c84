package dev.tally.catalog;

import dev.tally.store.internal.Manifest;
import dev.tally.store.internal.SealedPart;
import dev.tally.store.internal.SegmentFiles;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;

/**
 * Child-JVM main for {@link SqliteConcurrentSyncTest}: one worker's data directory (sealed by the
 * parent), which prints {@code READY}, waits for a line on standard input (so the parent starts all
 * children's commits at once), then syncs {@code rounds} times into the shared catalog, each round
 * a longer prefix of the manifest's parts (as successive seals would publish them; the last round
 * the whole manifest), and prints {@code DONE}. A failed sync exits with status 2. The child does
 * not open the store, which spares it DuckDB's start.
 *
 * <p>Arguments: {@code dir rounds jdbcUri warehouse}.
 */
public final class ConcurrentSyncChild {
    private ConcurrentSyncChild() {
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        int rounds = Integer.parseInt(args[1]);
        CatalogSettings settings = CatalogSettings.defaults(dir).withUri(args[2], null, null)
                .withWarehouse(Path.of(args[3]));
        Manifest full = Manifest.read(dir.resolve(SegmentFiles.MANIFEST_FILE));
        List<SealedPart> parts = full.parts();
        try (CatalogSync sync = CatalogSync.open(dir, settings)) {
            System.out.println("READY");
            System.out.flush();
            new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)).readLine();
            for (int r = 1; r <= rounds; r++) {
                int n = (int) Math.ceil(parts.size() * (double) r / rounds);
                sync.sync(r == rounds ? full : new Manifest(full.lastSeq(), parts.subList(0, n)));
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
