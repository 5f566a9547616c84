package dev.tally.store.correct;

import dev.tally.store.UsageEvent;
import java.time.Instant;
import java.util.List;
import java.util.Objects;

/**
 * One correction request: void events by id, amend one event, or void every event of a range.
 * Build one with {@link #voidIds}, {@link #amend} or {@link #voidRange}.
 *
 * @param correctionId the caller's idempotency key, unique per tenant: resending a correction id
 *                     already stored is a no-op that answers the stored result
 * @param tenant       whose events are corrected; a correction never touches another tenant's events
 * @param kind         what the correction does
 * @param ids          the ids to void ({@link Kind#VOID}); empty otherwise
 * @param replacement  the new values ({@link Kind#AMEND}); keeps the tenant and id
 * @param range        the events to void ({@link Kind#VOID_RANGE})
 * @param actor        who asks (free text the caller supplies, kept for the audit)
 * @param reason       why (free text, kept for the audit)
 * @param force        apply even when the correction touches a closed period (listed in the forced report)
 */
public record Correction(String correctionId, String tenant, Kind kind, List<String> ids, UsageEvent replacement,
        Range range, String actor, String reason, boolean force) {

    /** What a correction does. */
    public enum Kind {
        /** Voids events by id: readers answer as if they were never stored. */
        VOID,
        /** Replaces one event's values (type, subject, source, time within its UTC day, data). */
        AMEND,
        /** Voids every event of the tenant in a time range, optionally of one subject and/or type. */
        VOID_RANGE;

        /** The lower-case wire name, e.g. {@code void_range}. */
        public String code() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /**
     * The events a range void selects, as they read now (after earlier corrections).
     *
     * @param subject only this subject, or every subject when null
     * @param type    only this type, or every type when null
     * @param from    inclusive
     * @param to      exclusive
     */
    public record Range(String subject, String type, Instant from, Instant to) {
        public Range {
            Objects.requireNonNull(from, "from");
            Objects.requireNonNull(to, "to");
            if (!from.isBefore(to)) {
                throw new IllegalArgumentException("range from = " + from + " must be before to = " + to);
            }
        }
    }

    public Correction {
        Objects.requireNonNull(kind, "kind");
        ids = ids == null ? List.of() : List.copyOf(ids);
        actor = actor == null ? "" : actor;
        reason = reason == null ? "" : reason;
    }

    /** Voids {@code ids} of {@code tenant}. */
    public static Correction voidIds(String correctionId, String tenant, List<String> ids, String actor, String reason) {
        return new Correction(correctionId, tenant, Kind.VOID, ids, null, null, actor, reason, false);
    }

    /** Replaces the values of the event {@code replacement.tenant(), replacement.id()}. */
    public static Correction amend(String correctionId, UsageEvent replacement, String actor, String reason) {
        return new Correction(correctionId, replacement == null ? null : replacement.tenant(), Kind.AMEND, List.of(),
                replacement, null, actor, reason, false);
    }

    /** Voids every event of {@code tenant} that {@code range} selects. */
    public static Correction voidRange(String correctionId, String tenant, Range range, String actor, String reason) {
        return new Correction(correctionId, tenant, Kind.VOID_RANGE, List.of(), null, range, actor, reason, false);
    }

    /** The same correction, applied even where it touches a closed period. */
    public Correction forced() {
        return new Correction(correctionId, tenant, kind, ids, replacement, range, actor, reason, true);
    }
}
