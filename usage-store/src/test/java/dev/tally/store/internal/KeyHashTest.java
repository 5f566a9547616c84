package dev.tally.store.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class KeyHashTest {
    /** The hash matches the XXH64 reference vectors, since it is part of the file format. */
    @Test
    void xxh64_matchesReferenceVectors() {
        assertEquals(0xEF46DB3751D8E999L, hash(""));
        assertEquals(0xD24EC4F1A98C6E5BL, hash("a"));
        assertEquals(0x44BC2CF5AD770999L, hash("abc"));
        // longer than 32 bytes exercises the four-lane loop
        assertEquals(hash("Nobody inspects the spammish repetition"),
                hash("Nobody inspects the spammish repetition"));
        assertEquals(0xFBCEA83C8A378BF1L, hash("Nobody inspects the spammish repetition"));
    }

    /** Tenant and id are separated, so ("ab", "c") and ("a", "bc") differ. */
    @Test
    void of_separatesTenantFromId() {
        assertNotEquals(KeyHash.of("ab", "c"), KeyHash.of("a", "bc"));
    }

    /** ASCII keys (hashed without encoding) and others hash the UTF-8 bytes of tenant, NUL, id. */
    @Test
    void of_asciiAndNonAscii_hashTheUtf8Key() {
        for (String[] k : new String[][] {{"acme", "evt-1"}, {"", ""}, {"t", "x".repeat(70)}, {"zürich", "évt"},
            {"acme", "id-\uD83D\uDE00"}, {"a\u007F", "\u0080"}}) {
            assertEquals(hash(k[0] + '\0' + k[1]), KeyHash.of(k[0], k[1]), k[0] + "/" + k[1]);
        }
    }

    private static long hash(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        return KeyHash.xxh64(b, 0, b.length, 0);
    }
}
