package dev.tally.store.verify;

import java.util.List;
import java.util.Objects;

/**
 * One source line that is not simply {@link VerifyClass#UNCHANGED}, with where it is and why.
 *
 * <p>Immutable and thread-safe.
 *
 * @param verdict     its class
 * @param file        the source file's display name (e.g. {@code journal/journal.wal},
 *                    {@code spool:0/orders.jsonl})
 * @param offset      the line's byte offset in the file
 * @param tenant      the event's tenant, or null for a line that is not an event
 * @param id          the event's id, or null
 * @param detail      why, in words
 * @param differences for {@link VerifyClass#CHANGED}: the fields that differ, with both values
 */
public record EventFinding(VerifyClass verdict, String file, long offset, String tenant, String id, String detail,
        List<FieldDifference> differences) {

    public EventFinding {
        Objects.requireNonNull(verdict, "verdict");
        Objects.requireNonNull(file, "file");
        detail = detail == null ? "" : detail;
        differences = List.copyOf(differences);
    }

    /**
     * One field whose source and stored values differ.
     *
     * @param field  {@code type}, {@code subject}, {@code source}, {@code time} or {@code data}
     * @param source the value in the source line
     * @param stored the value in the store
     */
    public record FieldDifference(String field, String source, String stored) {
    }
}
