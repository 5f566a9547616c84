package dev.tally.store.ingest;

/**
 * Why a spool file was judged {@link SpoolStatus#CHANGED}.
 *
 * <p>Immutable and thread-safe.
 */
public enum ChangeReason {
    /** The file under that name is another file (device and inode, or creation time, differ). */
    IDENTITY_CHANGED,
    /** The file is shorter than the committed boundary. */
    TRUNCATED,
    /** The bytes before the committed boundary differ from what was imported. */
    PREFIX_CHANGED,
    /** The committed position has no fingerprint, so its prefix cannot be verified. */
    NO_FINGERPRINT;

    /** The lower-case wire name, e.g. {@code prefix_changed}. */
    public String code() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }

    /** Parses a {@link #code()}. */
    public static ChangeReason ofCode(String code) {
        return valueOf(code.toUpperCase(java.util.Locale.ROOT));
    }
}
