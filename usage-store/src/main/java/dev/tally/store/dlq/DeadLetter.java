package dev.tally.store.dlq;

import dev.tally.store.RejectReason;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.Arrays;
import java.util.Base64;
import java.util.HexFormat;
import java.util.Objects;

/**
 * One line or event that could not be stored, kept so it can be inspected and replayed.
 *
 * <p>The original bytes are kept as {@code text} when they are valid UTF-8, else as
 * {@code base64}; exactly one of the two is set. Only the first {@code cap} bytes are kept
 * ({@link #DEFAULT_MAX_ORIGINAL_BYTES} by default); {@link #length()} is always the full length
 * and {@link #truncated()} says whether bytes were dropped. A truncated entry can never be
 * replayed successfully, because its event is incomplete.
 *
 * <p>Immutable and thread-safe.
 *
 * @param source      where the line came from, e.g. {@code spool:0/orders.jsonl}
 * @param offset      the byte offset of the line in its source, or -1 when it has none
 * @param reason      why it was last refused
 * @param message     the last refusal's human-readable detail
 * @param text        the kept original bytes as text, or null
 * @param base64      the kept original bytes in base64 when they are not valid UTF-8, or null
 * @param length      the full original length in bytes
 * @param truncated   whether only a prefix of the original is kept
 * @param attempts    how many tries failed, the original one included (starts at 1)
 * @param firstSeen   when the line was first refused
 * @param lastAttempt when it was last tried
 */
public record DeadLetter(
        String source,
        long offset,
        RejectReason reason,
        String message,
        String text,
        String base64,
        long length,
        boolean truncated,
        int attempts,
        Instant firstSeen,
        Instant lastAttempt) {

    /** How many bytes of an original are kept by default: 64 KiB. */
    public static final int DEFAULT_MAX_ORIGINAL_BYTES = 64 << 10;

    public DeadLetter {
        Objects.requireNonNull(source, "source");
        Objects.requireNonNull(reason, "reason");
        Objects.requireNonNull(firstSeen, "firstSeen");
        Objects.requireNonNull(lastAttempt, "lastAttempt");
        message = message == null ? "" : message;
        if ((text == null) == (base64 == null)) {
            throw new IllegalArgumentException("exactly one of text and base64 must be set");
        }
        if (offset < -1) {
            throw new IllegalArgumentException("offset = " + offset + " must be -1 or more");
        }
        if (length < 0) {
            throw new IllegalArgumentException("length = " + length + " must not be negative");
        }
        if (attempts < 1) {
            throw new IllegalArgumentException("attempts = " + attempts + " must be at least 1");
        }
    }

    /** A first refusal, keeping at most {@link #DEFAULT_MAX_ORIGINAL_BYTES} of the original. */
    public static DeadLetter of(String source, long offset, RejectReason reason, String message, byte[] original,
            long originalLength, Instant now) {
        return of(source, offset, reason, message, original, originalLength, now, DEFAULT_MAX_ORIGINAL_BYTES);
    }

    /**
     * A first refusal.
     *
     * @param original       the original bytes, or a prefix of them when the caller did not hold
     *                       the whole line (an oversized one)
     * @param originalLength the full original length ({@code >= original.length})
     * @param cap            keep at most this many bytes
     */
    public static DeadLetter of(String source, long offset, RejectReason reason, String message, byte[] original,
            long originalLength, Instant now, int cap) {
        Objects.requireNonNull(original, "original");
        if (originalLength < original.length) {
            throw new IllegalArgumentException("originalLength " + originalLength + " is less than the "
                    + original.length + " bytes given");
        }
        int keep = Math.min(original.length, cap);
        boolean truncated = keep < originalLength;
        String text = decodeUtf8(original, keep);
        if (text == null && truncated) {
            // A cut through a multi-byte character: back off to a character boundary.
            for (int back = 1; back <= 3 && keep - back >= 0 && text == null; back++) {
                text = decodeUtf8(original, keep - back);
            }
        }
        String b64 = text == null ? Base64.getEncoder().encodeToString(Arrays.copyOf(original, keep)) : null;
        return new DeadLetter(source, offset, reason, message, text, b64, originalLength, truncated, 1, now, now);
    }

    /** The kept original bytes. */
    public byte[] originalBytes() {
        return text != null ? text.getBytes(StandardCharsets.UTF_8) : Base64.getDecoder().decode(base64);
    }

    /** This entry after one more failed try. */
    public DeadLetter failedAgain(RejectReason newReason, String newMessage, Instant now) {
        return new DeadLetter(source, offset, newReason, newMessage, text, base64, length, truncated, attempts + 1,
                firstSeen, now);
    }

    /**
     * Identifies the same refused line across adds: source, offset, full length and a digest of
     * the kept bytes. Adding an entry whose key is already queued (or already dead) does nothing,
     * so an import that is retried after a crash does not queue its bad lines twice.
     */
    public String key() {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            byte[] digest = md.digest(originalBytes());
            return source + '\u0000' + offset + '\u0000' + length + '\u0000' + HexFormat.of().formatHex(digest);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String decodeUtf8(byte[] b, int len) {
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(b, 0, len))
                    .toString();
        } catch (CharacterCodingException e) {
            return null;
        }
    }
}
