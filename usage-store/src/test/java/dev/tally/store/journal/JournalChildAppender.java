package dev.tally.store.journal;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * Child-JVM main for the multi-process test: opens the journal, prints {@code READY}, waits for a
 * {@code GO} line on stdin, appends {@code batches} batches of {@code batchSize} events with ids
 * {@code <prefix>-<n>}, then prints {@code DONE} and exits 0. With a sixth argument {@code ack} it
 * prints {@code ACK <batch>} after each acknowledged append, so a test that kills it knows what
 * was acknowledged.
 *
 * <p>Arguments: {@code dir prefix batches batchSize maxJournalBytes [ack]}.
 */
public final class JournalChildAppender {
    private JournalChildAppender() {
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        String prefix = args[1];
        int batches = Integer.parseInt(args[2]);
        int batchSize = Integer.parseInt(args[3]);
        long maxJournalBytes = Long.parseLong(args[4]);
        boolean ack = args.length > 5 && "ack".equals(args[5]);
        try (Journal journal = Journal.open(JournalConfig.builder(dir).maxJournalBytes(maxJournalBytes).build())) {
            System.out.println("READY");
            System.out.flush();
            BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
            String go = in.readLine();
            if (!"GO".equals(go)) {
                System.exit(3);
            }
            for (int b = 0; b < batches; b++) {
                journal.append(JournalTestSupport.batch(prefix, b * batchSize, batchSize));
                if (ack) {
                    System.out.println("ACK " + b);
                    System.out.flush();
                }
            }
        }
        System.out.println("DONE");
        System.out.flush();
        System.exit(0);
    }
}
