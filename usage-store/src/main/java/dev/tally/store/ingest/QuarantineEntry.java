package dev.tally.store.ingest;

import dev.tally.store.ImportPosition;
import java.time.Instant;
import java.util.Objects;

/**
 * A spool file found changed after part of it was imported; it is not imported again until
 * {@link SpoolScanner#release released}.
 *
 * <p>Immutable and thread-safe.
 *
 * @param source           the file's source name
 * @param reason           why it was judged changed
 * @param detail           a human-readable explanation
 * @param committed        the committed position it no longer matched
 * @param observedSize     its size when it was found changed
 * @param observedIdentity its identity when it was found changed
 * @param quarantinedAt    when it was quarantined
 */
public record QuarantineEntry(String source, ChangeReason reason, String detail, ImportPosition committed,
        long observedSize, String observedIdentity, Instant quarantinedAt) {
    public QuarantineEntry {
        Objects.requireNonNull(source, "source");
        Objects.requireNonNull(reason, "reason");
        Objects.requireNonNull(committed, "committed");
        Objects.requireNonNull(quarantinedAt, "quarantinedAt");
        detail = detail == null ? "" : detail;
        observedIdentity = observedIdentity == null ? "" : observedIdentity;
    }
}
