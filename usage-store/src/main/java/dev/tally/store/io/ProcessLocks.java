package dev.tally.store.io;

import java.nio.file.Path;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The store lock files this process holds. POSIX file locks belong to the process: opening and
 * closing a second channel on a lock file this process already locked would silently drop the
 * first lock. So a second open in the same JVM is refused here, before any channel is opened.
 *
 * <p>Thread-safe.
 */
public final class ProcessLocks {
    private static final Set<Path> HELD = ConcurrentHashMap.newKeySet();

    private ProcessLocks() {
    }

    /** Claims {@code lockFile} for this process; false when it is already held here. */
    public static boolean claim(Path lockFile) {
        return HELD.add(lockFile.toAbsolutePath().normalize());
    }

    public static void release(Path lockFile) {
        HELD.remove(lockFile.toAbsolutePath().normalize());
    }
}
