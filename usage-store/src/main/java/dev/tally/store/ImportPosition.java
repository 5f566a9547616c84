package dev.tally.store;

import java.util.Objects;

/**
 * How far an import has consumed one source, committed in the same transaction as the rows it
 * imported, so a crash can never store rows without their position or move the position past
 * rows it did not store.
 *
 * @param source      a stable name of the source, e.g. {@code journal:journal-000123.wal} or
 *                    {@code spool:invoices/2026-11-20.jsonl}
 * @param offset      the consumed byte boundary: every complete line before it is imported or
 *                    dead-lettered; nothing after it is
 * @param fingerprint a digest of exactly the bytes {@code [0, offset)}, to tell an append from a
 *                    rewrite; may be empty
 * @param identity    the file's identity (device and inode, or a name) when the position was
 *                    taken; may be empty
 */
public record ImportPosition(String source, long offset, String fingerprint, String identity) {
    public ImportPosition {
        Objects.requireNonNull(source, "source");
        if (offset < 0) {
            throw new IllegalArgumentException("offset = " + offset + " must not be negative");
        }
        fingerprint = fingerprint == null ? "" : fingerprint;
        identity = identity == null ? "" : identity;
    }
}
