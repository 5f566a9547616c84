package dev.tally.worker.demo;

import dev.tally.store.EventCodec;
import dev.tally.store.UsageEvent;
import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * A partner's nightly export for the demo: an NDJSON spool file of batch-inference usage for one
 * customer, with three broken lines (one cut off, one with NaN, one with a key twice) that the
 * import dead-letters with their offsets while it stores every other line.
 */
public final class DemoSpool {
    static final String TENANT = "initech";

    private DemoSpool() {
    }

    /** Writes {@code lines} lines (at least 100), three of them broken; returns {total lines, broken lines}. */
    public static int[] write(Path file, int lines, long seed, Instant end, int days) throws IOException {
        SplittableRandom r = new SplittableRandom(seed ^ 0x5eedL);
        int broken = 0;
        try (BufferedWriter w = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
            for (int i = 0; i < lines; i++) {
                Instant t = end.minus(Duration.ofSeconds(1 + r.nextLong(Duration.ofDays(days).toSeconds() - 1)));
                long in = 200 + r.nextInt(30_000);
                long out = 50 + r.nextInt(4_000);
                String id = String.format(Locale.ROOT, "batch_%06d", i);
                String subject = "key_initech_batch";
                if (i == lines / 4) {
                    w.write("{\"tenant\":\"" + TENANT + "\",\"id\":\"" + id + "\",\"type\":\"llm.request\",\"subject\":\""
                            + subject + "\",\"time\":\"" + EventCodec.formatTime(t) + "\",\"data\":{\"model\":\"nimbu");
                    w.write('\n');
                    broken++;
                    continue;
                }
                if (i == lines / 2) {
                    w.write(EventCodec.toJson(new UsageEvent(TENANT, id, "llm.request", subject, "partner-batch", t,
                            "{\"model\":\"nimbus-8b\",\"input_tokens\":" + in + ",\"output_tokens\":" + out + "}"))
                            .replace("\"output_tokens\":" + out, "\"output_tokens\":NaN"));
                    w.write('\n');
                    broken++;
                    continue;
                }
                String data = "{\"model\":\"nimbus-8b\",\"input_tokens\":" + in + ",\"output_tokens\":" + out
                        + (i == 3 * lines / 4 ? ",\"input_tokens\":" + in : "") + ",\"latency_ms\":" + (800 + r.nextInt(9_000))
                        + ",\"status\":\"ok\",\"region\":\"us-east\"}";
                if (i == 3 * lines / 4) {
                    broken++;
                }
                w.write(EventCodec.toJson(new UsageEvent(TENANT, id, "llm.request", subject, "partner-batch", t,
                        data)));
                w.write('\n');
            }
        }
        return new int[] {lines, broken};
    }
}
