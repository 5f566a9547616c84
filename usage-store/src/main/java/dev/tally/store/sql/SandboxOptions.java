package dev.tally.store.sql;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;

/**
 * Limits and scope of a {@link SqlSandbox}.
 *
 * @param from        oldest event time copied into the sandbox (inclusive), or null for all
 * @param to          newest event time copied (exclusive), or null for all
 * @param memoryLimit DuckDB {@code memory_limit} of the sandbox instance, in bytes
 * @param threads     DuckDB {@code threads} of the sandbox instance
 * @param timeout     longest a statement may run ({@code max_execution_time})
 * @param maxRows     most rows a result returns; more set {@link SqlResult#truncated()}
 * @param maxResultBytes most bytes a result may take as text (every value of every returned row,
 *                    as DuckDB prints it); a larger result is refused, never truncated silently
 * @param workDir     where the sandbox's private folder is made (its database file and spill
 *                    space); null for the system temp folder
 */
public record SandboxOptions(Instant from, Instant to, long memoryLimit, int threads, Duration timeout, int maxRows,
        long maxResultBytes, Path workDir) {
    public static final long DEFAULT_MEMORY_LIMIT = 512L << 20;
    public static final int DEFAULT_THREADS = 1;
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(30);
    public static final int DEFAULT_MAX_ROWS = 10_000;
    public static final long DEFAULT_MAX_RESULT_BYTES = 16L << 20;

    public SandboxOptions {
        if (from != null && to != null && !from.isBefore(to)) {
            throw new IllegalArgumentException("to = " + to + " must be after from = " + from);
        }
        if (memoryLimit < (16L << 20)) {
            throw new IllegalArgumentException("memoryLimit = " + memoryLimit + " bytes is below the minimum of 16 MiB");
        }
        if (threads < 1 || threads > 64) {
            throw new IllegalArgumentException("threads = " + threads + " must be between 1 and 64");
        }
        if (timeout == null || timeout.isNegative() || timeout.isZero()) {
            throw new IllegalArgumentException("timeout = " + timeout + " must be positive");
        }
        if (maxRows < 1) {
            throw new IllegalArgumentException("maxRows = " + maxRows + " must be at least 1");
        }
        if (maxResultBytes < 1024 || maxResultBytes > (1L << 30)) {
            throw new IllegalArgumentException("maxResultBytes = " + maxResultBytes + " must be 1 KiB to 1 GiB");
        }
    }

    /** Everything the tenant has, 512 MiB, one thread, 30 s per statement, 10,000 rows, 16 MiB of result. */
    public static SandboxOptions defaults() {
        return new SandboxOptions(null, null, DEFAULT_MEMORY_LIMIT, DEFAULT_THREADS, DEFAULT_TIMEOUT, DEFAULT_MAX_ROWS,
                DEFAULT_MAX_RESULT_BYTES, null);
    }

    public SandboxOptions withRange(Instant newFrom, Instant newTo) {
        return new SandboxOptions(newFrom, newTo, memoryLimit, threads, timeout, maxRows, maxResultBytes, workDir);
    }

    public SandboxOptions withTimeout(Duration newTimeout) {
        return new SandboxOptions(from, to, memoryLimit, threads, newTimeout, maxRows, maxResultBytes, workDir);
    }

    public SandboxOptions withMaxRows(int newMaxRows) {
        return new SandboxOptions(from, to, memoryLimit, threads, timeout, newMaxRows, maxResultBytes, workDir);
    }

    public SandboxOptions withMaxResultBytes(long newMaxResultBytes) {
        return new SandboxOptions(from, to, memoryLimit, threads, timeout, maxRows, newMaxResultBytes, workDir);
    }

    public SandboxOptions withMemoryLimit(long newMemoryLimit) {
        return new SandboxOptions(from, to, newMemoryLimit, threads, timeout, maxRows, maxResultBytes, workDir);
    }

    public SandboxOptions withWorkDir(Path dir) {
        return new SandboxOptions(from, to, memoryLimit, threads, timeout, maxRows, maxResultBytes, dir);
    }
}
