package dev.tally.store.internal;

import dev.tally.store.UsageEvent;

/**
 * A validated event ready to be written, with its dedup key and time in microseconds.
 *
 * @param index position in the submitted batch
 */
record StoredEvent(int index, UsageEvent event, long keyHash, long timeMicros) {
    String key() {
        return event.tenant() + '\0' + event.id();
    }
}
