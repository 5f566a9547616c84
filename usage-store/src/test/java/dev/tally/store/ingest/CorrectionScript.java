package dev.tally.store.ingest;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tally.store.Totals;
import dev.tally.store.UsageEvent;
import dev.tally.store.UsageStore;
import dev.tally.store.correct.Correction;
import dev.tally.store.journal.Journal;
import java.math.BigDecimal;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * A seeded journal of event batches and corrections interleaved (voids, amends, range voids, for
 * two tenants that use the same ids), written through {@link Journal}, with the straightforward
 * recomputation of what the store must answer once it is imported in journal order.
 *
 * <p>Not thread-safe: one test thread builds and checks it.
 */
final class CorrectionScript {
    static final List<String> TENANTS = List.of("acme", "globex");
    static final int SUBJECTS = 3;
    static final Instant DAY = Instant.parse("2026-11-19T00:00:00Z");

    /** One event as the oracle holds it: current subject and tokens, whether voided. */
    private static final class Ev {
        final Instant time;
        String subject;
        long tokens;
        boolean voided;

        Ev(Instant time, String subject, long tokens) {
            this.time = time;
            this.subject = subject;
            this.tokens = tokens;
        }
    }

    /** Events per tenant and id, in the order they were journaled. */
    private final Map<String, Map<String, Ev>> oracle = new LinkedHashMap<>();
    private final Random random;
    private int corrections;
    private int deadLetters;
    private int events;

    CorrectionScript(long seed) {
        this.random = new Random(seed);
        TENANTS.forEach(t -> oracle.put(t, new LinkedHashMap<>()));
    }

    /**
     * Journals {@code rounds} rounds: each a batch of {@code perRound} events per tenant and then
     * 0 to 2 corrections, each applied to the oracle as the importer must apply it.
     */
    void write(Journal journal, int rounds, int perRound) throws Exception {
        for (int r = 0; r < rounds; r++) {
            List<UsageEvent> batch = new ArrayList<>();
            for (String tenant : TENANTS) {
                for (int i = 0; i < perRound; i++) {
                    String id = "e-" + r + "-" + i; // the same ids in both tenants: isolation is tested
                    String subject = "key-" + random.nextInt(SUBJECTS);
                    Instant time = DAY.plusSeconds(random.nextInt(86_400));
                    long tokens = 1 + random.nextInt(1_000);
                    batch.add(event(tenant, id, subject, time, tokens));
                    oracle.get(tenant).put(id, new Ev(time, subject, tokens));
                    events++;
                }
            }
            journal.append(batch);
            for (int k = random.nextInt(3); k > 0; k--) {
                journal.appendCorrection(nextCorrection());
            }
        }
    }

    private static UsageEvent event(String tenant, String id, String subject, Instant time, long tokens) {
        return new UsageEvent(tenant, id, "llm.request", subject, "test", time, "{\"tokens\":" + tokens + "}");
    }

    /** A random correction of a random tenant, applied to the oracle. */
    private Correction nextCorrection() {
        String tenant = TENANTS.get(random.nextInt(TENANTS.size()));
        Map<String, Ev> evs = oracle.get(tenant);
        List<String> ids = new ArrayList<>(evs.keySet());
        String cid = "c-" + (++corrections);
        int kind = random.nextInt(4);
        if (kind <= 1) {
            // Void 1..3 ids, now and then one that is voided already or never stored.
            List<String> pick = new ArrayList<>();
            for (int n = 1 + random.nextInt(3); n > 0; n--) {
                pick.add(random.nextInt(10) == 0 ? "never-" + cid : ids.get(random.nextInt(ids.size())));
            }
            boolean rejected = false;
            java.util.Set<String> seen = new java.util.HashSet<>();
            for (String id : pick) {
                if (!seen.add(id)) {
                    continue;
                }
                Ev e = evs.get(id);
                if (e == null || e.voided) {
                    rejected = true;
                } else {
                    e.voided = true;
                }
            }
            if (rejected) {
                deadLetters++; // corrected or not, its rejected ids are dead-lettered in one entry
            }
            return Correction.voidIds(cid, tenant, pick, "ops", "test keys");
        }
        if (kind == 2) {
            String id = ids.get(random.nextInt(ids.size()));
            Ev e = evs.get(id);
            String subject = "key-" + random.nextInt(SUBJECTS);
            long tokens = random.nextInt(2_000);
            if (e.voided) {
                deadLetters++; // already_voided
            } else {
                e.subject = subject;
                e.tokens = tokens;
            }
            return Correction.amend(cid, event(tenant, id, subject, e.time, tokens), "ops", "wrong count");
        }
        String subject = "key-" + random.nextInt(SUBJECTS);
        Instant from = DAY.plusSeconds(random.nextInt(80_000));
        Instant to = from.plus(Duration.ofMinutes(30 + random.nextInt(120)));
        for (Ev e : evs.values()) {
            if (!e.voided && e.subject.equals(subject) && !e.time.isBefore(from) && e.time.isBefore(to)) {
                e.voided = true;
            }
        }
        return Correction.voidRange(cid, tenant, new Correction.Range(subject, "llm.request", from, to), "ops",
                "sent twice");
    }

    /** Events journaled. */
    int events() {
        return events;
    }

    /** Correction records journaled. */
    int corrections() {
        return corrections;
    }

    /** Corrections the importer must dead-letter (some id not corrected). */
    int deadLetters() {
        return deadLetters;
    }

    /** Asserts that {@code total()} of every tenant and subject matches the oracle. */
    void assertMatches(UsageStore store, String where) {
        for (String tenant : TENANTS) {
            for (int s = 0; s < SUBJECTS; s++) {
                String subject = "key-" + s;
                long count = 0;
                long sum = 0;
                for (Ev e : oracle.get(tenant).values()) {
                    if (!e.voided && e.subject.equals(subject)) {
                        count++;
                        sum += e.tokens;
                    }
                }
                Totals t = store.total(tenant, "llm.request", subject, "$.tokens", DAY, DAY.plus(Duration.ofDays(1)));
                assertEquals(count, t.events(), where + ": events of " + tenant + "/" + subject);
                assertEquals(0, BigDecimal.valueOf(sum).compareTo(t.sum()), where + ": sum of " + tenant + "/"
                        + subject + " = " + t.sum() + ", expected " + sum);
            }
        }
    }
}
