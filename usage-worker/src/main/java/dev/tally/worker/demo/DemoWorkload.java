package dev.tally.worker.demo;

import dev.tally.store.UsageEvent;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * A realistic, deterministic LLM-API usage workload for the demo: a handful of customers
 * (tenants) of very different sizes, each with API keys (subjects), calling models of a price list
 * with log-normally distributed input and output tokens and latency, more traffic on weekday
 * office hours than at night. About 1% of the calls are retried with the same request id (the
 * store keeps one), and a few are invalid (no API key, an impossible tenant name, a clock far in
 * the future), which the import refuses into the dead-letter queue.
 *
 * <p>Not thread-safe.
 */
public final class DemoWorkload {
    /** A customer: tenant name, relative traffic, API keys, preferred models. */
    record Customer(String tenant, double weight, int keys, String[] models, double[] modelWeights) {
    }

    static final List<Customer> CUSTOMERS = List.of(
            new Customer("acme-robotics", 0.34, 24, new String[] {"atlas-large", "atlas-mini", "orca-embed"},
                    new double[] {0.35, 0.45, 0.20}),
            new Customer("globex", 0.22, 12, new String[] {"atlas-mini", "nimbus-70b"}, new double[] {0.6, 0.4}),
            new Customer("initech", 0.16, 8, new String[] {"nimbus-70b", "nimbus-8b", "orca-embed"},
                    new double[] {0.3, 0.5, 0.2}),
            new Customer("umbrella-health", 0.13, 6, new String[] {"atlas-large", "nimbus-8b"},
                    new double[] {0.55, 0.45}),
            new Customer("stark-labs", 0.10, 15, new String[] {"atlas-large", "atlas-mini", "nimbus-70b"},
                    new double[] {0.5, 0.3, 0.2}),
            new Customer("wayne-enterprises", 0.05, 4, new String[] {"atlas-mini"}, new double[] {1.0}));
    private static final String[] REGIONS = {"us-east", "us-west", "eu-central"};

    /** Fraction of calls retried with the same id. */
    static final double RETRY_RATE = 0.01;
    /** Fraction of calls that are invalid. */
    static final double INVALID_RATE = 0.0002;

    private final SplittableRandom random;
    private final Instant end;
    private final long spanSeconds;
    private final List<UsageEvent> retries = new ArrayList<>();
    private long seq;
    private long retried;
    private long invalid;

    /**
     * @param seed the random seed: the same seed gives the same events relative to {@code end}
     * @param end  the exclusive end of the time span (usually now)
     * @param span how far back the events reach
     */
    public DemoWorkload(long seed, Instant end, Duration span) {
        this.random = new SplittableRandom(seed);
        this.end = end;
        this.spanSeconds = Math.max(1, span.toSeconds());
    }

    /** The next {@code n} submissions (calls, their retries and the odd invalid one). */
    public List<UsageEvent> next(int n) {
        List<UsageEvent> out = new ArrayList<>(n);
        while (out.size() < n) {
            if (!retries.isEmpty() && random.nextDouble() < 0.5) {
                out.add(retries.remove(retries.size() - 1));
                continue;
            }
            UsageEvent e = call();
            out.add(e);
            if (random.nextDouble() < RETRY_RATE) {
                retries.add(e);
                retried++;
            }
        }
        return out;
    }

    /** How many customers the workload has. */
    public static int customers() {
        return CUSTOMERS.size();
    }

    /** The customers' tenant names, largest first. */
    public static List<String> tenants() {
        return CUSTOMERS.stream().map(Customer::tenant).toList();
    }

    /** Retries produced so far (each one a duplicate of an earlier call). */
    public long retried() {
        return retried;
    }

    /** Invalid calls produced so far. */
    public long invalid() {
        return invalid;
    }

    private UsageEvent call() {
        long n = seq++;
        Customer c = pick();
        int key = (int) Math.min(c.keys() - 1, Math.floor(Math.pow(random.nextDouble(), 2) * c.keys()));
        String subject = "key_" + c.tenant().split("-")[0] + String.format(Locale.ROOT, "_%02d", key + 1);
        String model = c.models()[pickIndex(c.modelWeights())];
        Instant time = time();
        String id = String.format(Locale.ROOT, "req_%012x%04x", random.nextLong() & 0xffffffffffffL, n & 0xffff);
        long input = tokens(model.equals("orca-embed") ? 5.5 : 6.6, 0.9, 8, 120_000);
        long output = model.equals("orca-embed") ? 0 : tokens(5.2, 0.8, 1, 8_000);
        double latency = Math.round(Math.exp(5.8 + 0.5 * random.nextGaussian()) * (model.startsWith("atlas-large")
                ? 2.5 : 1.0) * 10) / 10.0;
        String status = random.nextDouble() < 0.006 ? "error" : "ok";
        String region = REGIONS[(int) (Math.abs(subject.hashCode()) % REGIONS.length)];
        String data = "{\"model\":\"" + model + "\",\"input_tokens\":" + input + ",\"output_tokens\":" + output
                + ",\"latency_ms\":" + latency + ",\"status\":\"" + status + "\",\"region\":\"" + region + "\"}";
        String tenant = c.tenant();
        if (random.nextDouble() < INVALID_RATE) {
            invalid++;
            switch (random.nextInt(3)) {
                case 0 -> subject = null; // a gateway bug: no API key recorded
                case 1 -> tenant = c.tenant().toUpperCase(Locale.ROOT).replace('-', ' '); // not a tenant name
                default -> time = end.plus(Duration.ofDays(2)); // a producer with a wrong clock
            }
        }
        return new UsageEvent(tenant, id, "llm.request", subject, "api-gateway", time, data);
    }

    private Customer pick() {
        double r = random.nextDouble();
        for (Customer c : CUSTOMERS) {
            r -= c.weight();
            if (r < 0) {
                return c;
            }
        }
        return CUSTOMERS.get(CUSTOMERS.size() - 1);
    }

    private int pickIndex(double[] weights) {
        double r = random.nextDouble();
        for (int i = 0; i < weights.length; i++) {
            r -= weights[i];
            if (r < 0) {
                return i;
            }
        }
        return weights.length - 1;
    }

    /** A time in the span, weighted towards weekday office hours (UTC). */
    private Instant time() {
        while (true) {
            long back = 1 + random.nextLong(spanSeconds);
            Instant t = end.minusSeconds(back).minusNanos(random.nextInt(1_000_000) * 1_000L);
            var dt = t.atOffset(ZoneOffset.UTC);
            int hour = dt.getHour();
            boolean weekend = dt.getDayOfWeek().getValue() >= 6;
            double weight = (hour >= 8 && hour < 19 ? 1.0 : 0.35) * (weekend ? 0.45 : 1.0);
            if (random.nextDouble() < weight) {
                return t;
            }
        }
    }

    private long tokens(double mu, double sigma, long min, long max) {
        long v = Math.round(Math.exp(mu + sigma * random.nextGaussian()));
        return Math.max(min, Math.min(max, v));
    }
}
