package dev.tally.store.verify;

import dev.tally.store.EventCodec;
import dev.tally.store.UsageEvent;
import dev.tally.store.UsageStore;
import dev.tally.store.dlq.DeadLetterQueue;
import dev.tally.store.ingest.Importer;
import dev.tally.store.journal.Journal;
import dev.tally.store.journal.JournalConfig;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * Child-JVM main that behaves like the daemon: holds the store open for writing (and seals every
 * few rounds, so the manifest keeps changing), appends to the journal (small files, so it rotates)
 * and to a spool file, imports, reaps imported archives, and prints {@code BATCH n} after each round until the
 * stop file exists, then {@code DONE}. It also writes the number of the last finished round to the
 * progress file (replaced atomically). Arguments: {@code dataDir spoolDir stopFile progressFile}.
 */
public final class VerifyDaemonChild {
    private VerifyDaemonChild() {
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        Path spool = Path.of(args[1]);
        Path stop = Path.of(args[2]);
        Path progress = Path.of(args[3]);
        Path progressTmp = progress.resolveSibling(progress.getFileName() + ".tmp");
        Clock clock = Clock.systemUTC();
        try (UsageStore store = UsageStore.builder(dir).clock(clock).maxSegmentBytes(1L << 20).build();
                Journal journal = Journal.open(JournalConfig.builder(dir).maxJournalBytes(512 << 10).build())) {
            Importer importer = new Importer(store, dir, List.of(spool), 500, 1 << 20, DeadLetterQueue.open(dir, false),
                    clock);
            Path spoolFile = spool.resolve("live.jsonl");
            long next = 0;
            for (int round = 1; !Files.exists(stop); round++) {
                List<UsageEvent> batch = new ArrayList<>();
                for (int i = 0; i < 200; i++) {
                    batch.add(event(next++, clock.instant()));
                }
                journal.append(batch);
                StringBuilder lines = new StringBuilder();
                for (int i = 0; i < 20; i++) {
                    lines.append(EventCodec.toJson(event(next++, clock.instant()))).append('\n');
                }
                Files.writeString(spoolFile, lines, StandardCharsets.UTF_8, StandardOpenOption.CREATE,
                        StandardOpenOption.APPEND);
                importer.runOnce();
                journal.reap(importer.fullyImported());
                if (round % 7 == 0) {
                    store.sealNow();
                }
                Files.writeString(progressTmp, Integer.toString(round));
                Files.move(progressTmp, progress, java.nio.file.StandardCopyOption.ATOMIC_MOVE,
                        java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                System.out.println("BATCH " + round);
                System.out.flush();
                // Paced as the worker's import loop (a pass every import.interval), not back to back:
                // a segment that is committed to without a pause never holds still long enough for
                // verify's consistent copy, which then fails closed as inconclusive.
                Thread.sleep(50);
            }
        }
        System.out.println("DONE");
        System.out.flush();
    }

    private static UsageEvent event(long n, Instant now) {
        return new UsageEvent("tenant-" + (n % 3), "d-" + n, "llm.request", "key-" + (n % 7), "daemon", now,
                "{\"input_tokens\":" + (n % 5_000) + ",\"cost\":0." + (n % 1_000) + "}");
    }
}
