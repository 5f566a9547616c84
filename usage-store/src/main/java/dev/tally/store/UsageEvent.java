package dev.tally.store;

import java.time.Instant;

/**
 * One usage event: something a customer did that may be billed.
 *
 * <p>The record holds the values as submitted; {@link UsageStore#append} validates them and
 * reports every problem per event instead of throwing, so a producer learns all that is wrong
 * with a batch at once. Use {@link EventCodec} to read and write the JSON line form.
 *
 * @param tenant  the billing account that owns the event; {@code [A-Za-z0-9][A-Za-z0-9._-]*}, at
 *                most 64 characters
 * @param id      the idempotency key: an event whose {@code (tenant, id)} is already stored is not
 *                stored again; at most 256 characters
 * @param type    the event type meters select on, e.g. {@code llm.request}; at most 128 characters
 * @param subject the customer, API key or resource billed; at most 256 characters
 * @param source  where the event came from (a service name, a file); optional, at most 256
 * @param time    when the usage happened, UTC; stored with microsecond precision (finer digits
 *                are truncated)
 * @param data    a JSON object with the measured values; numbers must fit DECIMAL(38,9) exactly
 */
public record UsageEvent(
        String tenant, String id, String type, String subject, String source, Instant time, String data) {

    /** Returns a copy with {@code time} truncated to whole microseconds, as it is stored. */
    public UsageEvent truncatedToMicros() {
        if (time == null || time.getNano() % 1_000 == 0) {
            return this;
        }
        return new UsageEvent(tenant, id, type, subject, source,
                time.truncatedTo(java.time.temporal.ChronoUnit.MICROS), data);
    }
}
