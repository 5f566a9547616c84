package dev.tally.bench;

import dev.tally.store.UsageEvent;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * A synthetic LLM-API workload: tenants, API keys as subjects, models, input and output tokens,
 * latency. Deterministic for a seed, so runs are comparable.
 */
public final class Workload {
    private static final String[] MODELS = {"gpt-4o", "gpt-4o-mini", "llama-3-70b", "mistral-large", "claude-3"};

    private final SplittableRandom random;
    private final int tenants;
    private final int subjects;
    private final Instant end;
    private final long spanMicros;
    private long next;

    public Workload(long seed, int tenants, int subjects, Instant end, Duration span) {
        this.random = new SplittableRandom(seed);
        this.tenants = tenants;
        this.subjects = subjects;
        this.end = end;
        this.spanMicros = span.toNanos() / 1_000;
    }

    /** The next {@code n} events, with ids unique across calls. */
    public List<UsageEvent> batch(int n) {
        List<UsageEvent> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            out.add(next());
        }
        return out;
    }

    public UsageEvent next() {
        long seq = next++;
        int subject = random.nextInt(subjects);
        String tenant = "tenant-" + (subject % tenants);
        Instant time = end.minusNanos(1_000 * (1 + random.nextLong(spanMicros - 1)));
        int in = 50 + random.nextInt(8_000);
        int out = 1 + random.nextInt(1_500);
        String data = "{\"model\":\"" + MODELS[subject % MODELS.length] + "\",\"input_tokens\":" + in
                + ",\"output_tokens\":" + out + ",\"latency_ms\":" + (20 + random.nextInt(4_000)) + "." + random.nextInt(10)
                + ",\"region\":\"" + (subject % 3 == 0 ? "eu" : "us") + "\"}";
        return new UsageEvent(tenant, "req-" + Long.toString(seq, 36) + "-" + Long.toHexString(random.nextLong()),
                "llm.request", "key-" + subject, "bench", time, data);
    }
}
