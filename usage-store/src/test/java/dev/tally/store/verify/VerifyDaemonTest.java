package dev.tally.store.verify;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tally.store.testing.ChildJvm;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** Verify beside a daemon-like child process that holds the store open for writing and keeps appending. */
class VerifyDaemonTest {
    @TempDir
    Path root;

    private static int round(Path progress) throws IOException {
        return Files.exists(progress) ? Integer.parseInt(Files.readString(progress).trim()) : 0;
    }

    /** The child keeps appending and importing while verify holds its snapshot (it is not blocked), verify finds no drift, and the child still stops cleanly. */
    @Test
    @Timeout(300)
    void run_whileChildHoldsStoreAndAppends_doesNotBlockItAndFindsNoDrift() throws Exception {
        Path data = Files.createDirectories(root.resolve("data"));
        Path spool = Files.createDirectories(root.resolve("spool"));
        Path tmp = Files.createDirectories(root.resolve("tmp"));
        Path stop = root.resolve("stop");
        Path progress = root.resolve("progress");
        try (ChildJvm child = ChildJvm.start(VerifyDaemonChild.class, root.resolve("child.log"), data.toString(),
                spool.toString(), stop.toString(), progress.toString())) {
            assertNotNull(child.await("BATCH 20", 120), "the child did not get going: " + child.output());
            // A plain run while the child writes, seals, rotates and reaps.
            VerifyReport plain = Verifier.builder(data).spoolDirs(List.of(spool)).tempDir(tmp).build().run();
            assertNoDrift(plain);

            // A run that holds its snapshot until the child has finished two more rounds.
            AtomicReference<int[]> during = new AtomicReference<>();
            VerifyReport held = Verifier.builder(data).spoolDirs(List.of(spool)).tempDir(tmp)
                    .hooks(new Verifier.Hooks() {
                        @Override
                        public void afterSnapshot() throws IOException {
                            // The snapshot is held: the child must still finish rounds (append, import, seal, reap).
                            int r0 = round(progress);
                            await().atMost(Duration.ofSeconds(60)).until(() -> round(progress) >= r0 + 2);
                            during.set(new int[] {r0, round(progress)});
                        }
                    }).build().run();
            assertNotNull(during.get(), "the child made no progress while verify held its snapshot");
            assertTrue(during.get()[1] >= during.get()[0] + 2);
            assertNoDrift(held);

            String after = child.await("BATCH", 60);
            assertNotNull(after, "the child stopped after verify: " + child.output());
            Files.createFile(stop);
            assertNotNull(child.await("DONE", 120), "the child did not stop cleanly: " + child.output());
            assertEquals(0, child.waitFor(60));
        } catch (IOException e) {
            throw new AssertionError(Files.readString(root.resolve("child.log")), e);
        }
    }

    private static void assertNoDrift(VerifyReport r) {
        String table = ReportFormat.table(r);
        assertEquals(0, r.count(VerifyClass.CHANGED), table);
        assertEquals(0, r.count(VerifyClass.MISSING), table);
        assertEquals(0, r.count(VerifyClass.INCONCLUSIVE), table);
        assertTrue(r.snapshot().complete() && r.snapshot().positionsKnown(), table);
        assertTrue(r.count(VerifyClass.UNCHANGED) > 0, table);
        assertFalse(r.drift(), table);
    }
}
