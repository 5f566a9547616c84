package dev.tally.store.testing;

import dev.tally.store.UsageEvent;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/** Builds deterministic usage events for tests. */
public final class TestEvents {
    private TestEvents() {
    }

    /** One LLM-request event with {@code tokens} input tokens. */
    public static UsageEvent event(String tenant, String id, String subject, Instant time, long tokens) {
        return new UsageEvent(tenant, id, "llm.request", subject, "test", time,
                "{\"input_tokens\":" + tokens + ",\"model\":\"m-" + (tokens % 3) + "\"}");
    }

    /**
     * {@code n} events with ids {@code prefix-0 .. prefix-(n-1)}, spread over {@code span}
     * before {@code end}, over {@code subjects} subjects, tokens from a seeded generator.
     */
    public static List<UsageEvent> batch(String tenant, String prefix, int n, int subjects, Instant end,
            Duration span, long seed) {
        Random r = new Random(seed);
        List<UsageEvent> out = new ArrayList<>(n);
        long spanMicros = span.toNanos() / 1_000;
        for (int i = 0; i < n; i++) {
            Instant t = end.minusNanos(1_000 * (1 + (long) (r.nextDouble() * (spanMicros - 1))));
            out.add(event(tenant, prefix + "-" + i, "key-" + (i % subjects), t, 1 + r.nextInt(5_000)));
        }
        return out;
    }
}
