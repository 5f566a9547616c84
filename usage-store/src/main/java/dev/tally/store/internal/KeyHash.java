package dev.tally.store.internal;

import java.nio.charset.StandardCharsets;

/**
 * The 64-bit key of an event's identity {@code (tenant, id)}: XXH64 (seed 0) of the UTF-8 bytes
 * of {@code tenant + '\0' + id}. It is stored with every row ({@code key_hash}) so the dedup
 * index can be rebuilt by reading one column; it is a filter, never proof: a hit is always
 * confirmed against the stored tenant and id.
 *
 * <p>The function is part of the file format: changing it needs a schema version bump.
 *
 * <p>Thread-safe: stateless.
 */
public final class KeyHash {
    private static final long P1 = 0x9E3779B185EBCA87L;
    private static final long P2 = 0xC2B2AE3D27D4EB4FL;
    private static final long P3 = 0x165667B19E3779F9L;
    private static final long P4 = 0x85EBCA77C2B2AE63L;
    private static final long P5 = 0x27D4EB2F165667C5L;

    private KeyHash() {
    }

    public static long of(String tenant, String id) {
        int tl = tenant.length();
        int il = id.length();
        // The common case, ASCII, copied straight into one array; anything else is encoded.
        byte[] b = new byte[tl + 1 + il];
        if (copyAscii(tenant, b, 0) && copyAscii(id, b, tl + 1)) {
            return xxh64(b, 0, b.length, 0);
        }
        byte[] t = tenant.getBytes(StandardCharsets.UTF_8);
        byte[] i = id.getBytes(StandardCharsets.UTF_8);
        byte[] u = new byte[t.length + 1 + i.length];
        System.arraycopy(t, 0, u, 0, t.length);
        System.arraycopy(i, 0, u, t.length + 1, i.length);
        return xxh64(u, 0, u.length, 0);
    }

    /** Copies {@code s} to {@code b} at {@code at} if it is all ASCII; false (part copied) if not. */
    private static boolean copyAscii(String s, byte[] b, int at) {
        for (int i = 0, n = s.length(); i < n; i++) {
            char c = s.charAt(i);
            if (c >= 0x80) {
                return false;
            }
            b[at + i] = (byte) c;
        }
        return true;
    }

    /** XXH64 as specified by its reference implementation. */
    public static long xxh64(byte[] b, int off, int len, long seed) {
        int end = off + len;
        int p = off;
        long h;
        if (len >= 32) {
            long v1 = seed + P1 + P2;
            long v2 = seed + P2;
            long v3 = seed;
            long v4 = seed - P1;
            int limit = end - 32;
            do {
                v1 = round(v1, le64(b, p));
                v2 = round(v2, le64(b, p + 8));
                v3 = round(v3, le64(b, p + 16));
                v4 = round(v4, le64(b, p + 24));
                p += 32;
            } while (p <= limit);
            h = Long.rotateLeft(v1, 1) + Long.rotateLeft(v2, 7) + Long.rotateLeft(v3, 12) + Long.rotateLeft(v4, 18);
            h = merge(h, v1);
            h = merge(h, v2);
            h = merge(h, v3);
            h = merge(h, v4);
        } else {
            h = seed + P5;
        }
        h += len;
        while (p + 8 <= end) {
            h ^= round(0, le64(b, p));
            h = Long.rotateLeft(h, 27) * P1 + P4;
            p += 8;
        }
        if (p + 4 <= end) {
            h ^= (le32(b, p) & 0xFFFFFFFFL) * P1;
            h = Long.rotateLeft(h, 23) * P2 + P3;
            p += 4;
        }
        while (p < end) {
            h ^= (b[p] & 0xFFL) * P5;
            h = Long.rotateLeft(h, 11) * P1;
            p++;
        }
        h ^= h >>> 33;
        h *= P2;
        h ^= h >>> 29;
        h *= P3;
        h ^= h >>> 32;
        return h;
    }

    private static long round(long acc, long input) {
        acc += input * P2;
        acc = Long.rotateLeft(acc, 31);
        return acc * P1;
    }

    private static long merge(long acc, long val) {
        acc ^= round(0, val);
        return acc * P1 + P4;
    }

    private static long le64(byte[] b, int p) {
        return (b[p] & 0xFFL) | (b[p + 1] & 0xFFL) << 8 | (b[p + 2] & 0xFFL) << 16 | (b[p + 3] & 0xFFL) << 24
                | (b[p + 4] & 0xFFL) << 32 | (b[p + 5] & 0xFFL) << 40 | (b[p + 6] & 0xFFL) << 48
                | (b[p + 7] & 0xFFL) << 56;
    }

    private static int le32(byte[] b, int p) {
        return (b[p] & 0xFF) | (b[p + 1] & 0xFF) << 8 | (b[p + 2] & 0xFF) << 16 | (b[p + 3] & 0xFF) << 24;
    }
}
