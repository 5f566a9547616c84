package dev.tally.store.read;

import java.time.Instant;

/** A part taken out of the store because its file was damaged. Immutable. */
public interface QuarantinedPart {
    PartInfo part();

    /** What was wrong (size or CRC32C mismatch, unreadable). */
    String reason();

    /** When it was quarantined. */
    Instant at();
}
