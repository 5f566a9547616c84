package dev.tally.store;

import java.util.Objects;

/**
 * An event that passed every rule of {@link EventRules} that does not depend on the clock, in the
 * form it is stored and journaled: time truncated to microseconds, an empty {@code source} as
 * null, {@code data} compact with every number as exact plain text. The time bounds are checked
 * again by whoever holds the clock ({@link EventRules#checkTime}), because they change as time
 * passes.
 *
 * <p>Only {@link EventRules} and {@link EventCodec} make instances, so holding one is proof of
 * validation: nothing downstream parses or validates its fields again.
 *
 * <p>Thread-safe: immutable.
 */
public final class ValidEvent {
    private final UsageEvent event;

    ValidEvent(UsageEvent event) {
        this.event = Objects.requireNonNull(event, "event");
    }

    /** The validated event, in canonical form. */
    public UsageEvent event() {
        return event;
    }

    public String tenant() {
        return event.tenant();
    }

    public String id() {
        return event.id();
    }

    public java.time.Instant time() {
        return event.time();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ValidEvent v && v.event.equals(event);
    }

    @Override
    public int hashCode() {
        return event.hashCode();
    }

    @Override
    public String toString() {
        return "ValidEvent" + event;
    }
}
