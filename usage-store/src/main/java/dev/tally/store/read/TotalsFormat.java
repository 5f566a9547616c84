package dev.tally.store.read;

import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.IOException;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.math.RoundingMode;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.function.Consumer;
import java.util.zip.CRC32C;

/**
 * The file format of a rollup part's totals ({@code <part>.parquet.totals}): one entry per
 * tenant, type, subject and property with the part's whole count, exact sum, min and max, sorted
 * so that one subject's entries are found by a binary search and read without the query engine.
 *
 * <pre>
 * file   := MAGIC block* index footer
 * block  := entry+                       about {@value #BLOCK_TARGET_BYTES} bytes; CRC32C in the index
 * entry  := str tenant, str type, str subject, optstr property, varlong count, dec sum, dec min, dec max
 * str    := varint length, UTF-8 bytes   optstr: varint (length + 1), 0 for none (the event-count entry)
 * dec    := byte n (0 for none), n bytes of the unscaled value (two's complement, big-endian), scale 9
 * index  := per block: long offset, int length, int CRC32C
 * footer := long index offset, int blocks, long entries, long events, int index CRC32C,
 *           int CRC32C of the footer so far, MAGIC
 * </pre>
 *
 * Entries are strictly ascending by tenant, type and subject (each compared as unsigned UTF-8
 * bytes), then property with none first: the writer refuses anything else, so a reader's search
 * can trust the order. Every byte a reader uses is checked against a CRC32C first; a file that
 * fails one, or is not in this format (a totals file of an older store was Parquet), throws
 * {@link DamagedException} and the caller reads the part's hourly rows instead.
 *
 * <p>Thread-safety: the static methods are; a {@link Writer} and a {@link Reader} are used by one
 * thread (a reader lives for one query).
 */
public final class TotalsFormat {
    static final byte[] MAGIC = "TLYTOTL1".getBytes(StandardCharsets.US_ASCII);
    static final int FOOTER_BYTES = 8 + 4 + 8 + 8 + 4 + 4 + MAGIC.length;
    static final int INDEX_ENTRY_BYTES = 16;
    /** A block is cut after the entry that brings it to this size: a search reads a few such blocks. */
    static final int BLOCK_TARGET_BYTES = 4096;
    /** The scale of every decimal: the rollups' DECIMAL(38,9). */
    public static final int SCALE = 9;
    /** An unscaled DECIMAL(38,9) below 10^38 takes at most 16 bytes. */
    private static final int MAX_DECIMAL_BYTES = 16;
    /** Unscaled values of DECIMAL(38,9) are below 10^38. */
    private static final BigInteger DECIMAL_LIMIT = BigInteger.TEN.pow(38);

    private TotalsFormat() {
    }

    /** One entry: the totals of one property (null: the event count) of one subject in the part. */
    public record Entry(String tenant, String type, String subject, String property, long count, BigDecimal sum,
            BigDecimal min, BigDecimal max) {
    }

    /** A totals file that is not in this format or fails a checksum; its part is read from its hourly rows. */
    public static final class DamagedException extends IOException {
        private static final long serialVersionUID = 1L;

        DamagedException(Path file, String why) {
            super("totals file " + file.getFileName() + " is damaged or not in Tally's totals format: " + why);
        }
    }

    /**
     * Writes a totals file from entries given in order. Refuses (with {@link IllegalArgumentException})
     * an entry out of order, a negative count or a decimal that is not exactly of scale 9 within
     * DECIMAL(38,9): the caller then writes no totals. Not thread-safe.
     */
    public static final class Writer implements Closeable {
        private final FileChannel ch;
        private final ByteArrayOutputStream block = new ByteArrayOutputStream(BLOCK_TARGET_BYTES * 2);
        private final ByteArrayOutputStream index = new ByteArrayOutputStream();
        private long position;
        private int blocks;
        private long entries;
        private long events;
        private Key last;

        /** A writer into {@code ch}, a new empty file opened for writing; it owns and closes the channel. */
        public Writer(FileChannel ch) throws IOException {
            this.ch = ch;
            write(ByteBuffer.wrap(MAGIC));
        }

        /** Appends {@code e}, which must sort after the entry before it. */
        public void add(Entry e) throws IOException {
            Key k = new Key(bytes(e.tenant(), "tenant"), bytes(e.type(), "type"), bytes(e.subject(), "subject"),
                    e.property() == null ? null : e.property().getBytes(StandardCharsets.UTF_8));
            if (last != null && k.compareTo(last) <= 0) {
                throw new IllegalArgumentException("totals entry " + e + " does not sort after the entry before it");
            }
            if (e.count() < 0) {
                throw new IllegalArgumentException("totals entry " + e + " has a negative count");
            }
            byte[] sum = decimal(e.sum());
            byte[] min = decimal(e.min());
            byte[] max = decimal(e.max());
            str(k.tenant);
            str(k.type);
            str(k.subject);
            if (k.property == null) {
                varlong(block, 0);
            } else {
                varlong(block, k.property.length + 1L);
                block.write(k.property);
            }
            varlong(block, e.count());
            for (byte[] d : new byte[][] {sum, min, max}) {
                block.write(d.length);
                block.write(d);
            }
            last = k;
            entries++;
            if (e.property() == null) {
                events = Math.addExact(events, e.count());
            }
            if (block.size() >= BLOCK_TARGET_BYTES) {
                flushBlock();
            }
        }

        /** Writes the index and footer and forces the file to the device. */
        public void finish() throws IOException {
            flushBlock();
            byte[] idx = index.toByteArray();
            long indexOffset = position;
            write(ByteBuffer.wrap(idx));
            ByteBuffer footer = ByteBuffer.allocate(FOOTER_BYTES);
            footer.putLong(indexOffset).putInt(blocks).putLong(entries).putLong(events).putInt(crc(idx, 0, idx.length));
            footer.putInt(crc(footer.array(), 0, footer.position())).put(MAGIC).flip();
            write(footer);
            ch.force(true);
        }

        @Override
        public void close() throws IOException {
            ch.close();
        }

        private void flushBlock() throws IOException {
            if (block.size() == 0) {
                return;
            }
            byte[] b = block.toByteArray();
            block.reset();
            ByteBuffer entry = ByteBuffer.allocate(INDEX_ENTRY_BYTES).putLong(position).putInt(b.length)
                    .putInt(crc(b, 0, b.length));
            index.write(entry.array(), 0, INDEX_ENTRY_BYTES);
            write(ByteBuffer.wrap(b));
            blocks++;
        }

        private void write(ByteBuffer b) throws IOException {
            while (b.hasRemaining()) {
                position += ch.write(b);
            }
        }

        private void str(byte[] s) {
            varlong(block, s.length);
            block.write(s, 0, s.length);
        }

        private static byte[] bytes(String s, String what) {
            if (s == null) {
                throw new IllegalArgumentException("totals entry without a " + what);
            }
            return s.getBytes(StandardCharsets.UTF_8);
        }

        private static byte[] decimal(BigDecimal d) {
            if (d == null) {
                return new byte[0];
            }
            BigInteger unscaled;
            try {
                unscaled = d.setScale(SCALE, RoundingMode.UNNECESSARY).unscaledValue();
            } catch (ArithmeticException e) {
                throw new IllegalArgumentException("totals value " + d + " has more than " + SCALE + " decimal places");
            }
            if (unscaled.abs().compareTo(DECIMAL_LIMIT) >= 0) {
                throw new IllegalArgumentException("totals value " + d + " does not fit DECIMAL(38,9)");
            }
            return unscaled.toByteArray();
        }
    }

    /**
     * Reads {@code file} whole, checking every checksum, the order and the footer's counts; returns
     * the events it counts. Throws {@link DamagedException} for a file that fails a check.
     */
    public static long check(Path file) throws IOException {
        try (Reader r = Reader.open(file)) {
            r.forEach(e -> { });
            return r.events();
        }
    }

    /**
     * An open totals file, checked (magic, footer and index checksums) when opened; each block's
     * checksum is checked when the block is first read. Lives for one query. Not thread-safe.
     */
    public static final class Reader implements Closeable {
        private final Path file;
        private final FileChannel ch;
        private final long indexOffset;
        private final int blocks;
        private final long entries;
        private final long events;
        private final ByteBuffer index;
        private final Map<Integer, byte[]> read = new HashMap<>();

        private Reader(Path file, FileChannel ch) throws IOException {
            this.file = file;
            this.ch = ch;
            long size = ch.size();
            if (size < MAGIC.length + FOOTER_BYTES) {
                throw new DamagedException(file, size + " bytes is too short");
            }
            if (!Arrays.equals(readAt(0, MAGIC.length), MAGIC)) {
                throw new DamagedException(file, "no totals header");
            }
            byte[] f = readAt(size - FOOTER_BYTES, FOOTER_BYTES);
            ByteBuffer footer = ByteBuffer.wrap(f);
            if (!Arrays.equals(Arrays.copyOfRange(f, FOOTER_BYTES - MAGIC.length, FOOTER_BYTES), MAGIC)
                    || footer.getInt(FOOTER_BYTES - MAGIC.length - 4) != crc(f, 0, FOOTER_BYTES - MAGIC.length - 4)) {
                throw new DamagedException(file, "footer checksum");
            }
            this.indexOffset = footer.getLong();
            this.blocks = footer.getInt();
            this.entries = footer.getLong();
            this.events = footer.getLong();
            int indexCrc = footer.getInt();
            if (blocks < 0 || indexOffset != size - FOOTER_BYTES - (long) blocks * INDEX_ENTRY_BYTES
                    || indexOffset < MAGIC.length) {
                throw new DamagedException(file, "index of " + blocks + " blocks at " + indexOffset + " in " + size + " bytes");
            }
            byte[] idx = readAt(indexOffset, blocks * INDEX_ENTRY_BYTES);
            if (crc(idx, 0, idx.length) != indexCrc) {
                throw new DamagedException(file, "index checksum");
            }
            this.index = ByteBuffer.wrap(idx);
            long expect = MAGIC.length;
            for (int i = 0; i < blocks; i++) {
                long off = index.getLong(i * INDEX_ENTRY_BYTES);
                int len = index.getInt(i * INDEX_ENTRY_BYTES + 8);
                if (off != expect || len <= 0) {
                    throw new DamagedException(file, "block " + i + " at " + off + " of " + len + " bytes");
                }
                expect = off + len;
            }
            if (expect != indexOffset) {
                throw new DamagedException(file, "blocks end at " + expect + ", the index starts at " + indexOffset);
            }
        }

        /** Opens and checks {@code file}. */
        public static Reader open(Path file) throws IOException {
            FileChannel ch = FileChannel.open(file, StandardOpenOption.READ);
            try {
                return new Reader(file, ch);
            } catch (IOException | RuntimeException e) {
                ch.close();
                throw e;
            }
        }

        /** The events the file counts (its event-count entries summed). */
        public long events() {
            return events;
        }

        /** How many entries the file holds. */
        public long entries() {
            return entries;
        }

        /**
         * Hands {@code v} every entry of {@code tenant} and {@code type} (of {@code subject} only,
         * unless it is null) whose property is none (the event count) or {@code property}, in file
         * order.
         */
        public void scan(String tenant, String type, String subject, String property, Consumer<Entry> out)
                throws IOException {
            byte[] t = tenant.getBytes(StandardCharsets.UTF_8);
            byte[] y = type.getBytes(StandardCharsets.UTF_8);
            byte[] s = subject == null ? null : subject.getBytes(StandardCharsets.UTF_8);
            // The last block whose first entry sorts before the wanted ones holds the first of them.
            int lo = 0;
            int hi = blocks - 1;
            int start = 0;
            while (lo <= hi) {
                int mid = (lo + hi) >>> 1;
                Cursor c = new Cursor(block(mid), 0);
                if (c.comparePrefix(t, y, s) < 0) {
                    start = mid;
                    lo = mid + 1;
                } else {
                    hi = mid - 1;
                }
            }
            for (int b = start; b < blocks; b++) {
                byte[] data = block(b);
                Cursor c = new Cursor(data, 0);
                while (c.pos < data.length) {
                    int cmp = c.comparePrefix(t, y, s);
                    if (cmp > 0) {
                        return;
                    }
                    if (cmp < 0) {
                        c.skipEntry();
                        continue;
                    }
                    Entry e = c.entry();
                    if (e.property() == null || e.property().equals(property)) {
                        out.accept(e);
                    }
                }
            }
        }

        /** Every entry in file order, each block checked, the order and the footer's counts too. */
        public void forEach(Consumer<Entry> out) throws IOException {
            long n = 0;
            long counted = 0;
            Key last = null;
            for (int b = 0; b < blocks; b++) {
                byte[] data = block(b);
                Cursor c = new Cursor(data, 0);
                while (c.pos < data.length) {
                    Entry e = c.entry();
                    Key k = new Key(e.tenant().getBytes(StandardCharsets.UTF_8), e.type().getBytes(StandardCharsets.UTF_8),
                            e.subject().getBytes(StandardCharsets.UTF_8),
                            e.property() == null ? null : e.property().getBytes(StandardCharsets.UTF_8));
                    if (last != null && k.compareTo(last) <= 0) {
                        throw new DamagedException(file, "entries out of order in block " + b);
                    }
                    last = k;
                    n++;
                    counted += e.property() == null ? e.count() : 0;
                    out.accept(e);
                }
            }
            if (n != entries || counted != events) {
                throw new DamagedException(file, n + " entries counting " + counted + " events, the footer says "
                        + entries + " and " + events);
            }
        }

        @Override
        public void close() throws IOException {
            ch.close();
        }

        private byte[] block(int i) throws IOException {
            byte[] b = read.get(i);
            if (b == null) {
                long off = index.getLong(i * INDEX_ENTRY_BYTES);
                int len = index.getInt(i * INDEX_ENTRY_BYTES + 8);
                b = readAt(off, len);
                if (crc(b, 0, len) != index.getInt(i * INDEX_ENTRY_BYTES + 12)) {
                    throw new DamagedException(file, "block " + i + " checksum");
                }
                read.put(i, b);
            }
            return b;
        }

        private byte[] readAt(long offset, int len) throws IOException {
            ByteBuffer b = ByteBuffer.allocate(len);
            while (b.hasRemaining()) {
                if (ch.read(b, offset + b.position()) < 0) {
                    throw new DamagedException(file, "ends before byte " + (offset + len));
                }
            }
            return b.array();
        }

        /** Reads entries of a checked block; a length that leaves the block means a bug or damage the CRC missed. */
        private final class Cursor {
            final byte[] d;
            int pos;

            Cursor(byte[] d, int pos) {
                this.d = d;
                this.pos = pos;
            }

            /** Compares the entry at {@code pos} by tenant, type and (unless null) subject; does not move. */
            int comparePrefix(byte[] t, byte[] y, byte[] s) throws DamagedException {
                int at = pos;
                for (byte[] want : new byte[][] {t, y, s}) {
                    if (want == null) {
                        return 0;
                    }
                    int len = lengthAt(at);
                    at = next;
                    check(at, len);
                    int c = Arrays.compareUnsigned(d, at, at + len, want, 0, want.length);
                    if (c != 0) {
                        return c;
                    }
                    at += len;
                }
                return 0;
            }

            /** Steps over the entry at {@code pos} without decoding it. */
            void skipEntry() throws DamagedException {
                skipStr();
                skipStr();
                skipStr();
                int plen = lengthAt(pos);
                pos = next;
                if (plen > 0) {
                    check(pos, plen - 1);
                    pos += plen - 1;
                }
                varlongAt(pos);
                pos = next;
                skipDecimal();
                skipDecimal();
                skipDecimal();
            }

            Entry entry() throws DamagedException {
                String tenant = str();
                String type = str();
                String subject = str();
                int plen = lengthAt(pos);
                pos = next;
                String property = null;
                if (plen > 0) {
                    check(pos, plen - 1);
                    property = new String(d, pos, plen - 1, StandardCharsets.UTF_8);
                    pos += plen - 1;
                }
                long count = varlongAt(pos);
                pos = next;
                return new Entry(tenant, type, subject, property, count, decimal(), decimal(), decimal());
            }

            private String str() throws DamagedException {
                int len = lengthAt(pos);
                pos = next;
                check(pos, len);
                String s = new String(d, pos, len, StandardCharsets.UTF_8);
                pos += len;
                return s;
            }

            private void skipStr() throws DamagedException {
                int len = lengthAt(pos);
                pos = next;
                check(pos, len);
                pos += len;
            }

            private BigDecimal decimal() throws DamagedException {
                check(pos, 1);
                int n = d[pos++];
                if (n == 0) {
                    return null;
                }
                if (n < 0 || n > MAX_DECIMAL_BYTES) {
                    throw new DamagedException(file, "decimal of " + n + " bytes");
                }
                check(pos, n);
                BigDecimal v = new BigDecimal(new BigInteger(d, pos, n), SCALE);
                pos += n;
                return v;
            }

            private void skipDecimal() throws DamagedException {
                check(pos, 1);
                int n = d[pos++];
                if (n < 0 || n > MAX_DECIMAL_BYTES) {
                    throw new DamagedException(file, "decimal of " + n + " bytes");
                }
                check(pos, n);
                pos += n;
            }

            /** Where the last {@link #varlongAt} or {@link #lengthAt} ended. */
            private int next;

            private long varlongAt(int at) throws DamagedException {
                long v = 0;
                for (int shift = 0; shift < 64; shift += 7) {
                    check(at, 1);
                    byte b = d[at++];
                    v |= (long) (b & 0x7f) << shift;
                    if (b >= 0) {
                        next = at;
                        return v;
                    }
                }
                throw new DamagedException(file, "a number longer than ten bytes at byte " + at + " of a block");
            }

            /** A length: a varlong that must fit in the block. */
            private int lengthAt(int at) throws DamagedException {
                long v = varlongAt(at);
                if (v < 0 || v > d.length) {
                    throw new DamagedException(file, "a length of " + v + " in a block of " + d.length + " bytes");
                }
                return (int) v;
            }

            private void check(int at, int len) throws DamagedException {
                if (len < 0 || at + len > d.length || at + len < 0) {
                    throw new DamagedException(file, "an entry runs past its block");
                }
            }
        }
    }

    /** An entry's sort key: tenant, type and subject as unsigned UTF-8 bytes, then the property, none first. */
    private record Key(byte[] tenant, byte[] type, byte[] subject, byte[] property) implements Comparable<Key> {
        @Override
        public int compareTo(Key o) {
            int c = Arrays.compareUnsigned(tenant, o.tenant);
            if (c == 0) {
                c = Arrays.compareUnsigned(type, o.type);
            }
            if (c == 0) {
                c = Arrays.compareUnsigned(subject, o.subject);
            }
            if (c == 0) {
                c = property == null ? (o.property == null ? 0 : -1)
                        : o.property == null ? 1 : Arrays.compareUnsigned(property, o.property);
            }
            return c;
        }
    }

    private static void varlong(ByteArrayOutputStream out, long v) {
        while ((v & ~0x7fL) != 0) {
            out.write((int) ((v & 0x7f) | 0x80));
            v >>>= 7;
        }
        out.write((int) v);
    }

    private static int crc(byte[] b, int off, int len) {
        CRC32C c = new CRC32C();
        c.update(b, off, len);
        return (int) c.getValue();
    }
}
