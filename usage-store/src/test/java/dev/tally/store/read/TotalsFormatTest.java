package dev.tally.store.read;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.math.BigDecimal;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The totals file format: writing, searching, and refusing what it cannot trust. */
class TotalsFormatTest {
    @TempDir
    Path dir;

    private static final List<String> TENANTS = List.of("acme", "Acme", "globex", "zeta-ü");
    private static final List<String> TYPES = List.of("api.call", "llm.request");
    private static final List<String> PROPERTIES = List.of("input_tokens", "output_tokens", "Ω");

    /** Every subject's entries over hundreds of blocks are found by the search exactly as a full scan filters them. */
    @Test
    void scan_manyBlocks_findsExactlyWhatAFullScanFilters() throws Exception {
        List<TotalsFormat.Entry> entries = entries(new Random(7), 1_500);
        Path f = write(entries);
        try (TotalsFormat.Reader r = TotalsFormat.Reader.open(f)) {
            assertEquals(entries.size(), r.entries());
            assertTrue(Files.size(f) > 100 * TotalsFormat.BLOCK_TARGET_BYTES, "many blocks: " + Files.size(f));
            List<TotalsFormat.Entry> all = new ArrayList<>();
            r.forEach(all::add);
            assertEquals(entries, all);
            assertEquals(entries.stream().filter(e -> e.property() == null).mapToLong(TotalsFormat.Entry::count).sum(),
                    r.events());
            Random pick = new Random(11);
            for (int i = 0; i < 300; i++) {
                TotalsFormat.Entry probe = entries.get(pick.nextInt(entries.size()));
                String property = i % 3 == 0 ? null : probe.property() == null ? "input_tokens" : probe.property();
                assertScan(r, entries, probe.tenant(), probe.type(), probe.subject(), property);
                if (i % 30 == 0) {
                    assertScan(r, entries, probe.tenant(), probe.type(), null, property);
                }
            }
            // Before the first, after the last, between two, and a prefix of a subject.
            for (String subject : List.of("", "0", "s-00500x", "s-0050", "\uFFFF", "s-01499", "zzz")) {
                assertScan(r, entries, "acme", "api.call", subject, "input_tokens");
            }
            assertScan(r, entries, "nobody", "api.call", null, null);
            assertScan(r, entries, "acme", "none", null, null);
        }
    }

    /** A flipped bit anywhere in the file, or a file cut short, is refused rather than read. */
    @Test
    void open_damagedFile_refusedWherever() throws Exception {
        Path f = write(entries(new Random(3), 40));
        byte[] good = Files.readAllBytes(f);
        Random random = new Random(5);
        for (int i = 0; i < 200; i++) {
            byte[] bad = good.clone();
            int at = random.nextInt(bad.length);
            bad[at] ^= (byte) (1 << random.nextInt(8));
            Files.write(f, bad);
            assertThrows(TotalsFormat.DamagedException.class, () -> TotalsFormat.check(f), "bit flipped at byte " + at);
        }
        for (int len : new int[] {0, 7, 20, good.length / 2, good.length - 1}) {
            Files.write(f, Arrays.copyOf(good, len));
            assertThrows(TotalsFormat.DamagedException.class, () -> TotalsFormat.check(f), "cut to " + len);
        }
        Files.write(f, "PAR1 not ours".getBytes(StandardCharsets.US_ASCII));
        assertThrows(TotalsFormat.DamagedException.class, () -> TotalsFormat.check(f));
    }

    /** The writer refuses entries out of order, repeated, with a negative count or beyond DECIMAL(38,9). */
    @Test
    void add_entryTheFormatCannotHold_refused() throws Exception {
        TotalsFormat.Entry b = new TotalsFormat.Entry("t", "x", "b", null, 1, null, null, null);
        for (TotalsFormat.Entry bad : List.of(
                new TotalsFormat.Entry("t", "x", "a", null, 1, null, null, null),
                b,
                new TotalsFormat.Entry("t", "x", "b", "p", -1, null, null, null),
                new TotalsFormat.Entry("t", "x", "c", "p", 1, new BigDecimal("0.0000000001"), null, null),
                new TotalsFormat.Entry("t", "x", "c", "p", 1, new BigDecimal("1e29"), null, null))) {
            Path f = dir.resolve("refused-" + System.nanoTime());
            try (TotalsFormat.Writer w = writer(f)) {
                w.add(b);
                assertThrows(IllegalArgumentException.class, () -> w.add(bad), bad.toString());
            }
        }
    }

    private static void assertScan(TotalsFormat.Reader r, List<TotalsFormat.Entry> entries, String tenant, String type,
            String subject, String property) throws Exception {
        List<String> want = new ArrayList<>();
        for (TotalsFormat.Entry e : entries) {
            if (e.tenant().equals(tenant) && e.type().equals(type) && (subject == null || e.subject().equals(subject))
                    && (e.property() == null || e.property().equals(property))) {
                want.add(e.subject() + "|" + e.property() + "|" + e.count() + "|" + e.sum() + "|" + e.min() + "|" + e.max());
            }
        }
        List<String> got = new ArrayList<>();
        r.scan(tenant, type, subject, property, e -> got.add(e.subject() + "|" + e.property() + "|" + e.count() + "|"
                + e.sum() + "|" + e.min() + "|" + e.max()));
        assertEquals(want, got, tenant + " " + type + " " + subject + " " + property);
    }


    private TotalsFormat.Writer writer(Path f) throws Exception {
        return new TotalsFormat.Writer(FileChannel.open(f, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE));
    }

    private Path write(List<TotalsFormat.Entry> entries) throws Exception {
        Path f = dir.resolve("part.parquet.totals");
        Files.deleteIfExists(f);
        try (TotalsFormat.Writer w = writer(f)) {
            for (TotalsFormat.Entry e : entries) {
                w.add(e);
            }
            w.finish();
        }
        return f;
    }

    /** Entries in the format's order: every tenant and type, {@code subjects} subjects, the event count and some properties each. */
    private static List<TotalsFormat.Entry> entries(Random random, int subjects) {
        List<TotalsFormat.Entry> out = new ArrayList<>();
        for (String tenant : TENANTS) {
            for (String type : TYPES) {
                for (int s = 0; s < subjects; s++) {
                    String subject = String.format("s-%05d", s * 2) + (s % 97 == 0 ? "é\uD83D\uDE00" : "");
                    long events = 1 + random.nextInt(1000);
                    out.add(new TotalsFormat.Entry(tenant, type, subject, null, events, null, null, null));
                    for (String p : PROPERTIES) {
                        if (random.nextInt(4) != 0) {
                            BigDecimal min = BigDecimal.valueOf(random.nextLong(), 9);
                            BigDecimal max = min.add(BigDecimal.valueOf(random.nextInt(1_000_000), 3)).setScale(9);
                            out.add(new TotalsFormat.Entry(tenant, type, subject, p, events,
                                    new BigDecimal(random.nextLong()).multiply(BigDecimal.valueOf(1L << 20)).setScale(9),
                                    min, random.nextInt(10) == 0 ? null : max));
                        }
                    }
                }
            }
        }
        Comparator<String> bytes = (a, b) -> Arrays.compareUnsigned(a.getBytes(StandardCharsets.UTF_8),
                b.getBytes(StandardCharsets.UTF_8));
        out.sort(Comparator.comparing(TotalsFormat.Entry::tenant, bytes).thenComparing(TotalsFormat.Entry::type, bytes)
                .thenComparing(TotalsFormat.Entry::subject, bytes)
                .thenComparing(TotalsFormat.Entry::property, Comparator.nullsFirst(bytes)));
        assertTrue(out.stream().map(e -> e.tenant() + e.type() + e.subject() + Objects.toString(e.property()))
                .distinct().count() == out.size());
        return out;
    }
}
