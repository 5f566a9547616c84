package dev.tally.bench.suite;

import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * The physical limit for a durable journal: sequential appends to one file with an fsync
 * ({@link FileChannel#force}) after every block, for 4 KiB, 64 KiB and 1 MiB blocks. Reports
 * MB/s, fsyncs/s and the p50/p99 time of one write plus fsync.
 */
final class DiskBench {
    private DiskBench() {
    }

    static void run(Results out, Path dir, double seconds) throws Exception {
        Files.createDirectories(dir);
        int[] sizes = {4 << 10, 64 << 10, 1 << 20};
        for (int size : sizes) {
            Path file = dir.resolve("fsync-" + size + ".bin");
            byte[] block = new byte[size];
            new SplittableRandom(size).nextBytes(block);
            ByteBuffer buf = ByteBuffer.wrap(block);
            long[] lat = new long[1 << 16];
            int n = 0;
            long written = 0;
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE,
                    StandardOpenOption.APPEND)) {
                long start = System.nanoTime();
                long end = start + (long) (seconds * 1e9);
                while (System.nanoTime() < end) {
                    long t0 = System.nanoTime();
                    buf.clear();
                    while (buf.hasRemaining()) {
                        written += ch.write(buf);
                    }
                    ch.force(false);
                    if (n == lat.length) {
                        lat = Arrays.copyOf(lat, lat.length * 2);
                    }
                    lat[n++] = System.nanoTime() - t0;
                }
                double s = (System.nanoTime() - start) / 1e9;
                long[] sorted = Sys.sorted(Arrays.copyOf(lat, n));
                String k = "disk." + (size >> 10) + "k.";
                out.put(k + "mb_per_s", written / s / 1e6);
                out.put(k + "fsyncs_per_s", n / s);
                out.put(k + "p50_ms", Sys.percentile(sorted, 0.5) / 1e6);
                out.put(k + "p99_ms", Sys.percentile(sorted, 0.99) / 1e6);
            } finally {
                Files.deleteIfExists(file);
            }
        }
    }
}
