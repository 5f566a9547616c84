package dev.tally.bench.suite;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.stream.Stream;

/** Small helpers: process memory, sizes on disk, percentiles, load. */
final class Sys {
    private Sys() {
    }

    /** Peak resident set size of process {@code pid} ("self" for this JVM) in bytes, from /proc; -1 if unknown. */
    static long peakRss(String pid) {
        return statusKb(pid, "VmHWM:");
    }

    static long rss(String pid) {
        return statusKb(pid, "VmRSS:");
    }

    private static long statusKb(String pid, String field) {
        try {
            for (String l : Files.readAllLines(Path.of("/proc", pid, "status"))) {
                if (l.startsWith(field)) {
                    return Long.parseLong(l.substring(field.length()).trim().split("\\s+")[0]) * 1024;
                }
            }
        } catch (IOException | RuntimeException e) {
            return -1;
        }
        return -1;
    }

    /** The 1-minute load average, or -1. */
    static double load() {
        try {
            return Double.parseDouble(Files.readString(Path.of("/proc/loadavg")).split("\\s+")[0]);
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    /** Bytes of the regular files under {@code dir} whose name passes {@code filter}. */
    static long bytes(Path dir, java.util.function.Predicate<Path> filter) throws IOException {
        if (!Files.exists(dir)) {
            return 0;
        }
        try (Stream<Path> s = Files.walk(dir)) {
            return s.filter(Files::isRegularFile).filter(filter).mapToLong(p -> {
                try {
                    return Files.size(p);
                } catch (IOException e) {
                    return 0; // deleted meanwhile
                }
            }).sum();
        }
    }

    static long bytes(Path dir) throws IOException {
        return bytes(dir, p -> true);
    }

    /** Nearest-rank percentile of the sorted values ({@code p} in 0..1). */
    static double percentile(long[] sorted, double p) {
        if (sorted.length == 0) {
            return Double.NaN;
        }
        int i = (int) Math.ceil(p * sorted.length) - 1;
        return sorted[Math.max(0, Math.min(sorted.length - 1, i))];
    }

    static long[] sorted(long[] xs) {
        long[] c = xs.clone();
        Arrays.sort(c);
        return c;
    }

    static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
