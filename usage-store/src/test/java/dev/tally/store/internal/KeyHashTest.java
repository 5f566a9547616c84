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

    private static long hash(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        return KeyHash.xxh64(b, 0, b.length, 0);
    }
}
