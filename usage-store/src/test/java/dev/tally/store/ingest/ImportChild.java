package dev.tally.store.ingest;

import dev.tally.store.UsageStore;
import dev.tally.store.dlq.DeadLetterQueue;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;

/**
 * Child-JVM main for the import kill loop: opens the store (running recovery), prints
 * {@code OPEN}, imports the journal in small batches printing {@code BATCH n} before each batch,
 * prints {@code DONE} when nothing is left. Arguments: {@code dataDir epochSecondsNow batchSize}.
 */
public final class ImportChild {
    private ImportChild() {
    }

    public static void main(String[] args) {
        Path dir = Path.of(args[0]);
        Clock clock = Clock.fixed(Instant.ofEpochSecond(Long.parseLong(args[1])), ZoneOffset.UTC);
        int batch = Integer.parseInt(args[2]);
        try (UsageStore store = UsageStore.builder(dir).clock(clock).maxSegmentBytes(1L << 20).build()) {
            System.out.println("OPEN");
            System.out.flush();
            Importer importer = new Importer(store, dir, List.of(), batch, 1 << 20, DeadLetterQueue.open(dir, false), clock);
            int[] n = {0};
            // The stop hook is asked before every batch: it reports progress batch by batch, so the
            // parent can kill this process in the middle of an import pass.
            while (importer.runOnce(() -> {
                System.out.println("BATCH " + (++n[0]));
                System.out.flush();
                return false;
            }).didWork()) {
                // next pass
            }
        }
        System.out.println("DONE");
        System.out.flush();
    }
}
