package dev.tally.store.ingest;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tally.store.EventRejectedException;
import dev.tally.store.RejectReason;
import dev.tally.store.UsageEvent;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.ReadableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LineReaderTest {
    static final int MIB = 1 << 20;

    @TempDir
    Path dir;

    /** A valid event line for {@code id}, without newline. */
    static String ev(String id) {
        return "{\"tenant\":\"acme\",\"id\":\"" + id + "\",\"type\":\"llm.request\",\"subject\":\"key-7\","
                + "\"time\":\"2026-11-20T10:00:00Z\",\"data\":{\"input_tokens\":812}}";
    }

    static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }

    /** One parse outcome: an event or a reason. */
    record Outcome(LineReader.Line line, UsageEvent event, RejectReason reason) {
    }

    static List<Outcome> readAll(LineReader r) throws IOException {
        List<Outcome> out = new ArrayList<>();
        LineReader.Line l;
        while ((l = r.next()) != null) {
            try {
                out.add(new Outcome(l, l.parse(r.maxLineBytes()), null));
            } catch (EventRejectedException e) {
                out.add(new Outcome(l, null, e.reason()));
            }
        }
        return out;
    }

    /** Counts the bytes of every read and the largest single read, to prove reads are bounded. */
    static final class CountingChannel implements ReadableByteChannel {
        final ReadableByteChannel in;
        long largestRead;

        CountingChannel(ReadableByteChannel in) {
            this.in = in;
        }

        @Override
        public int read(ByteBuffer dst) throws IOException {
            largestRead = Math.max(largestRead, dst.remaining());
            return in.read(dst);
        }

        @Override
        public boolean isOpen() {
            return in.isOpen();
        }

        @Override
        public void close() throws IOException {
            in.close();
        }
    }

    /** Generates {@code head}, then {@code fill} bytes of 'x', then {@code tail}, without storing them. */
    static final class GeneratedChannel implements ReadableByteChannel {
        final byte[] head;
        final long fill;
        final byte[] tail;
        long pos;
        final byte[] xs = new byte[64 << 10];

        GeneratedChannel(byte[] head, long fill, byte[] tail) {
            this.head = head;
            this.fill = fill;
            this.tail = tail;
            Arrays.fill(xs, (byte) 'x');
        }

        @Override
        public int read(ByteBuffer dst) {
            long total = head.length + fill + tail.length;
            if (pos >= total) {
                return -1;
            }
            int n = 0;
            while (dst.hasRemaining() && pos < total) {
                if (pos < head.length) {
                    int k = (int) Math.min(dst.remaining(), head.length - pos);
                    dst.put(head, (int) pos, k);
                    pos += k;
                    n += k;
                } else if (pos < head.length + fill) {
                    int k = (int) Math.min(Math.min(dst.remaining(), xs.length), head.length + fill - pos);
                    dst.put(xs, 0, k);
                    pos += k;
                    n += k;
                } else {
                    int off = (int) (pos - head.length - fill);
                    int k = Math.min(dst.remaining(), tail.length - off);
                    dst.put(tail, off, k);
                    pos += k;
                    n += k;
                }
            }
            return n;
        }

        @Override
        public boolean isOpen() {
            return true;
        }

        @Override
        public void close() {
        }
    }

    /** A 3 MiB line between good lines is reported as too long with its offset and length, never held whole, and the good lines around it are returned. */
    @Test
    void next_lineOverLimit_skippedWithoutHoldingIt() throws IOException {
        byte[] first = utf8(ev("a") + "\n");
        byte[] big = new byte[3 * MIB];
        Arrays.fill(big, (byte) 'y');
        big[0] = '{';
        Path f = dir.resolve("big.jsonl");
        Files.write(f, concat(first, big, utf8("\n" + ev("b") + "\n")));

        int bufferBytes = 8 << 10;
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ)) {
            CountingChannel counting = new CountingChannel(ch);
            LineReader r = new LineReader(counting, 0, MIB, bufferBytes, null);
            List<Outcome> out = readAll(r);

            assertEquals(3, out.size());
            assertEquals("a", out.get(0).event().id());
            LineReader.Line tooLong = out.get(1).line();
            assertTrue(tooLong.tooLong());
            assertEquals(first.length, tooLong.start());
            assertEquals(3L * MIB, tooLong.contentLength());
            assertEquals(LineReader.OVERSIZED_HEAD_BYTES, tooLong.content().length);
            assertEquals(RejectReason.LINE_TOO_LONG, out.get(1).reason());
            assertEquals("b", out.get(2).event().id());
            assertEquals(Files.size(f), r.boundary());
            // Bounded: no read asked for more than the buffer, and the line buffer never grew past the limit.
            assertTrue(counting.largestRead <= bufferBytes, "largest read " + counting.largestRead);
            assertTrue(r.peakHeldBytes() <= MIB + 4, "held " + r.peakHeldBytes() + " bytes");
        }
    }

    /** A line longer than any Java array (3 GiB, generated on the fly) is streamed to its newline in bounded memory. */
    @Test
    void next_lineLongerThanAnyArray_streamedInBoundedMemory() throws IOException {
        long fill = 3L << 30;
        byte[] tail = utf8("\n" + ev("after") + "\n");
        LineReader r = new LineReader(new GeneratedChannel(utf8("{\"tenant\":\""), fill, tail), 0, MIB,
                LineReader.DEFAULT_BUFFER_BYTES, null);

        LineReader.Line l = r.next();
        assertTrue(l.tooLong());
        assertEquals(fill + 11, l.contentLength());
        assertEquals(0, l.start());
        LineReader.Line next = r.next();
        assertNotNull(next);
        assertEquals("after", assertDoesNotThrowParse(next, r).id());
        assertNull(r.next());
        assertTrue(r.peakHeldBytes() <= MIB + 4, "held " + r.peakHeldBytes() + " bytes");
    }

    static UsageEvent assertDoesNotThrowParse(LineReader.Line l, LineReader r) {
        try {
            return l.parse(r.maxLineBytes());
        } catch (EventRejectedException e) {
            throw new AssertionError("line at " + l.start() + " was refused: " + e.reason() + " " + e.getMessage());
        }
    }

    /** Every kind of hostile line gets its own reason, and every good line around them is returned with the right offset. */
    @Test
    void next_hostileLines_eachRefusedWithItsReasonAndGoodLinesKept() throws IOException {
        String deep = "{\"tenant\":\"acme\",\"id\":\"d\",\"type\":\"t\",\"subject\":\"s\",\"time\":\"2026-11-20T10:00:00Z\","
                + "\"data\":" + "{\"a\":".repeat(40) + "1" + "}".repeat(40) + "}";
        List<byte[]> lines = List.of(
                utf8(ev("g1")),
                concat(utf8("{\"tenant\":\"acme\",\"id\":\""), new byte[] {(byte) 0xC3, (byte) 0x28},
                        utf8("\",\"type\":\"t\",\"subject\":\"s\",\"time\":\"2026-11-20T10:00:00Z\",\"data\":{}}")),
                utf8(ev("g2")),
                utf8(deep),
                utf8(ev("g3").replace("812", "NaN")),
                utf8(ev("g4").replace("812", "Infinity")),
                utf8(ev("g5").replace("812", "1" + "0".repeat(30))),
                utf8(ev("g6").replace("812", "0.0000000001")),
                utf8(ev("g7").replace("\"subject\":\"key-7\"", "\"subject\":\"key-7\",\"subject\":\"key-8\"")),
                utf8(ev("g8").replace("\"input_tokens\":812", "\"n\":1,\"n\":2")),
                utf8(ev("g9").replace("\"subject\":\"key-7\"", "\"subject\":7")),
                utf8(ev("g10").replace("{\"input_tokens\":812}", "[1,2]")),
                utf8(ev("g11").replace("\"subject\"", "\"extra\":1,\"subject\"")),
                utf8("{not json"),
                utf8("[]"),
                utf8(ev("g12")));
        List<Object> expected = List.of("g1", RejectReason.MALFORMED_UTF8, "g2", RejectReason.NESTING_TOO_DEEP,
                RejectReason.NON_FINITE_NUMBER, RejectReason.NON_FINITE_NUMBER, RejectReason.NUMBER_OUT_OF_RANGE,
                RejectReason.NUMBER_OUT_OF_RANGE, RejectReason.DUPLICATE_KEY, RejectReason.DUPLICATE_KEY,
                RejectReason.INVALID_FIELD, RejectReason.DATA_NOT_OBJECT, RejectReason.INVALID_FIELD,
                RejectReason.INVALID_JSON, RejectReason.INVALID_JSON, "g12");
        ByteArrayOutputStream file = new ByteArrayOutputStream();
        List<Long> offsets = new ArrayList<>();
        for (byte[] l : lines) {
            offsets.add((long) file.size());
            file.writeBytes(l);
            file.write('\n');
        }
        Path f = dir.resolve("hostile.jsonl");
        Files.write(f, file.toByteArray());

        try (LineReader r = LineReader.open(f, 0, MIB)) {
            List<Outcome> out = readAll(r);
            assertEquals(expected.size(), out.size());
            for (int i = 0; i < expected.size(); i++) {
                Outcome o = out.get(i);
                assertEquals(offsets.get(i), o.line().start(), "offset of line " + i);
                assertArrayEquals(lines.get(i), o.line().content(), "content of line " + i);
                if (expected.get(i) instanceof String id) {
                    assertNotNull(o.event(), "line " + i + " refused: " + o.reason());
                    assertEquals(id, o.event().id());
                } else {
                    assertEquals(expected.get(i), o.reason(), "reason of line " + i);
                }
            }
            assertEquals(Files.size(f), r.boundary());
        }
    }

    /** A UTF-8 byte order mark at offset 0 is skipped but counted in the consumed boundary. */
    @Test
    void next_byteOrderMark_skippedAndCounted() throws IOException {
        byte[] bom = {(byte) 0xEF, (byte) 0xBB, (byte) 0xBF};
        Path f = dir.resolve("bom.jsonl");
        Files.write(f, concat(bom, utf8(ev("a") + "\n" + ev("b") + "\n")));
        try (LineReader r = LineReader.open(f, 0, MIB)) {
            List<Outcome> out = readAll(r);
            assertEquals(List.of("a", "b"), out.stream().map(o -> o.event().id()).toList());
            assertEquals(0, out.get(0).line().start());
            assertArrayEquals(utf8(ev("a")), out.get(0).line().content());
            assertEquals(Files.size(f), r.boundary());
        }
    }

    /** Empty and blank lines are skipped and consumed, and CRLF terminators lose their carriage return. */
    @Test
    void next_blankLinesAndCrlf_skippedAndStripped() throws IOException {
        Path f = dir.resolve("blank.jsonl");
        String text = "\n  \t\n" + ev("a") + "\r\n\r\n\n" + ev("b") + "\r\n   \n";
        Files.write(f, utf8(text));
        try (LineReader r = LineReader.open(f, 0, MIB)) {
            List<Outcome> out = readAll(r);
            assertEquals(List.of("a", "b"), out.stream().map(o -> o.event().id()).toList());
            assertArrayEquals(utf8(ev("b")), out.get(1).line().content());
            assertEquals(text.indexOf(ev("b")), out.get(1).line().start());
            assertEquals(Files.size(f), r.boundary());
        }
    }

    /** A partial last line is neither returned nor consumed; once the writer finishes it, it is read exactly once. */
    @Test
    void next_partialLastLine_notConsumedUntilComplete() throws IOException {
        Path f = dir.resolve("live.jsonl");
        String done = ev("a") + "\n";
        String partial = ev("b").substring(0, 30);
        Files.write(f, utf8(done + partial));
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ)) {
            LineReader r = new LineReader(ch, 0, MIB, 16, PrefixFingerprint.empty());
            assertEquals("a", r.next().parse(MIB).id());
            assertNull(r.next());
            assertTrue(r.atEnd());
            assertEquals(done.length(), r.boundary());
            assertEquals(PrefixFingerprint.hexOfPrefix(f, r.boundary()), r.fingerprint().hex());

            // A fresh reader from the committed boundary sees nothing either.
            try (LineReader again = LineReader.open(f, r.boundary(), MIB)) {
                assertNull(again.next());
                assertEquals(done.length(), again.boundary());
            }

            Files.write(f, utf8(ev("b").substring(30) + "\n"), StandardOpenOption.APPEND);
            LineReader.Line b = r.next();
            assertEquals("b", b.parse(MIB).id());
            assertEquals(done.length(), b.start());
            assertNull(r.next());
            assertEquals(Files.size(f), r.boundary());
            assertEquals(PrefixFingerprint.hexOfPrefix(f, r.boundary()), r.fingerprint().hex());
        } catch (EventRejectedException e) {
            throw new AssertionError(e);
        }
        try (LineReader fresh = LineReader.open(f, done.length(), MIB)) {
            List<Outcome> out = readAll(fresh);
            assertEquals(1, out.size());
            assertEquals("b", out.get(0).event().id());
        }
    }

    /** A partial oversized last line is not consumed, and the running fingerprint still covers exactly the boundary. */
    @Test
    void next_partialOversizedLine_notConsumedAndFingerprintExact() throws IOException {
        Path f = dir.resolve("grow.jsonl");
        byte[] big = new byte[2 * MIB];
        Arrays.fill(big, (byte) 'z');
        Files.write(f, concat(utf8(ev("a") + "\n"), big));
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ)) {
            LineReader r = new LineReader(ch, 0, MIB, 4096, PrefixFingerprint.empty());
            assertFalse(r.next().tooLong());
            assertNull(r.next());
            long boundary = r.boundary();
            assertEquals(ev("a").length() + 1, boundary);
            assertEquals(PrefixFingerprint.hexOfPrefix(f, boundary), r.fingerprint().hex());

            Files.write(f, utf8("\n" + ev("c") + "\n"), StandardOpenOption.APPEND);
            LineReader.Line l = r.next();
            assertTrue(l.tooLong());
            assertEquals(2L * MIB, l.contentLength());
            assertEquals(boundary, l.start());
            assertNotNull(r.next());
            assertNull(r.next());
            assertEquals(Files.size(f), r.boundary());
            assertEquals(PrefixFingerprint.hexOfPrefix(f, r.boundary()), r.fingerprint().hex());
        }
    }

    /** A line exactly at the limit is accepted, one byte more is too long, and a CR does not count toward it. */
    @Test
    void next_lineAtLimit_acceptedAndOneMoreRefused() throws IOException {
        int max = 64;
        byte[] at = new byte[max];
        Arrays.fill(at, (byte) 'q');
        byte[] over = new byte[max + 1];
        Arrays.fill(over, (byte) 'q');
        Path f = dir.resolve("limit.jsonl");
        Files.write(f, concat(at, utf8("\r\n"), over, utf8("\n")));
        try (LineReader r = LineReader.open(f, 0, max)) {
            LineReader.Line a = r.next();
            assertFalse(a.tooLong());
            assertEquals(max, a.contentLength());
            LineReader.Line b = r.next();
            assertTrue(b.tooLong());
            assertEquals(max + 1, b.contentLength());
            assertThrows(EventRejectedException.class, () -> b.parse(max));
        }
    }
}
