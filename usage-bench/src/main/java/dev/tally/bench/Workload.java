package dev.tally.bench;

import dev.tally.store.UsageEvent;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * A synthetic LLM-API workload: tenants, API keys as subjects, models, end users, input and
 * output tokens, latency. Deterministic for a seed, so runs are comparable.
 *
 * <p>By default event times are uniform over {@code span} before {@code end}. An
 * {@link #ordered ordered} workload instead moves through the span in arrival order (event
 * {@code i} of {@code total} near {@code end - span + span * i / total}, give or take a minute),
 * as events from live services arrive.
 *
 * <p>Each event picks a model and an end user at random. Subject {@code key-s} always belongs to
 * tenant {@code tenant-(s % tenants)}, so tenant {@code t} owns the subjects {@code s} with
 * {@code s % tenants == t}.
 */
public final class Workload {
    static final String[] MODELS = {"gpt-4o", "gpt-4o-mini", "llama-3-70b", "mistral-large", "claude-3"};
    /** Distinct end users per workload (the {@code user} property). */
    static final int USERS = 5_000;
    private static final long JITTER_MICROS = 60_000_000L;

    private final SplittableRandom random;
    private final int tenants;
    private final int subjects;
    private final Instant end;
    private final long endMicros;
    private final long spanMicros;
    private final long total;
    private final String idPrefix;
    private long next;

    public Workload(long seed, int tenants, int subjects, Instant end, Duration span) {
        this(seed, tenants, subjects, end, span, 0);
    }

    private Workload(long seed, int tenants, int subjects, Instant end, Duration span, long total) {
        this.random = new SplittableRandom(seed);
        this.tenants = tenants;
        this.subjects = subjects;
        this.end = end;
        this.endMicros = end.getEpochSecond() * 1_000_000L + end.getNano() / 1_000;
        this.spanMicros = span.toNanos() / 1_000;
        this.total = total;
        this.idPrefix = "req-" + Long.toString(seed, 36) + "-";
    }

    /** A workload whose {@code total} events arrive in time order over {@code span} before {@code end}. */
    public static Workload ordered(long seed, int tenants, int subjects, Instant end, Duration span, long total) {
        if (total <= 0) {
            throw new IllegalArgumentException("total = " + total + " must be positive");
        }
        return new Workload(seed, tenants, subjects, end, span, total);
    }

    public int tenants() {
        return tenants;
    }

    public int subjects() {
        return subjects;
    }

    public Instant end() {
        return end;
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
        long micros;
        if (total > 0) {
            long at = endMicros - spanMicros + (long) (spanMicros * ((seq % total) + 0.5) / total);
            micros = at + random.nextLong(2 * JITTER_MICROS) - JITTER_MICROS;
            micros = Math.min(micros, endMicros - 1);
            micros = Math.max(micros, endMicros - spanMicros + 1);
        } else {
            micros = endMicros - (1 + random.nextLong(spanMicros - 1));
        }
        Instant time = Instant.ofEpochSecond(Math.floorDiv(micros, 1_000_000L), Math.floorMod(micros, 1_000_000L) * 1_000);
        int in = 50 + random.nextInt(8_000);
        int out = 1 + random.nextInt(1_500);
        StringBuilder data = new StringBuilder(160);
        data.append("{\"model\":\"").append(MODELS[random.nextInt(MODELS.length)]).append("\",\"input_tokens\":").append(in)
                .append(",\"output_tokens\":").append(out).append(",\"latency_ms\":").append(20 + random.nextInt(4_000))
                .append('.').append(random.nextInt(10)).append(",\"region\":\"").append(subject % 3 == 0 ? "eu" : "us")
                .append("\",\"user\":\"u-").append(random.nextInt(USERS)).append("\"}");
        return new UsageEvent(tenant, idPrefix + Long.toString(seq, 36) + "-" + Long.toHexString(random.nextLong()),
                "llm.request", "key-" + subject, "bench", time, data.toString());
    }
}
