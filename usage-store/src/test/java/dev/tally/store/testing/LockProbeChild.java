package dev.tally.store.testing;

import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/** Child-JVM main: tries to lock the file given as argument and prints LOCKED (it got it) or HELD. */
public final class LockProbeChild {
    private LockProbeChild() {
    }

    public static void main(String[] args) throws Exception {
        try (FileChannel ch = FileChannel.open(Path.of(args[0]), StandardOpenOption.WRITE)) {
            FileLock lock = ch.tryLock();
            System.out.println(lock == null ? "HELD" : "LOCKED");
        }
    }
}
