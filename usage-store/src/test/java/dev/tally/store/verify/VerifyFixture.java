package dev.tally.store.verify;

import dev.tally.store.EventCodec;
import dev.tally.store.UsageEvent;
import dev.tally.store.dlq.DeadLetterQueue;
import dev.tally.store.ingest.Importer;
import dev.tally.store.internal.TestStores;
import dev.tally.store.internal.TieredStore;
import dev.tally.store.journal.Journal;
import dev.tally.store.journal.JournalConfig;
import dev.tally.store.testing.MutableClock;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.time.Instant;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

/** A data directory with a journal and one spool directory, and the helpers the verify tests share. */
final class VerifyFixture {
    static final Instant NOW = Instant.parse("2026-11-20T12:00:00Z");

    final Path data;
    final Path spool;
    final Path tmp;
    final MutableClock clock = new MutableClock(NOW);

    VerifyFixture(Path root) throws IOException {
        this.data = Files.createDirectories(root.resolve("data"));
        this.spool = Files.createDirectories(root.resolve("spool"));
        this.tmp = Files.createDirectories(root.resolve("tmp"));
    }

    TieredStore store() {
        return TestStores.open(data, clock);
    }

    Journal journal() {
        return Journal.open(JournalConfig.builder(data).clock(clock).build());
    }

    Importer importer(TieredStore store) {
        return new Importer(store, data, List.of(spool), 500, 1 << 20, DeadLetterQueue.open(data, false), clock);
    }

    Verifier.Builder verifier() {
        return Verifier.builder(data).spoolDirs(List.of(spool)).clock(clock).tempDir(tmp);
    }

    VerifyReport verify() {
        return verifier().build().run();
    }

    VerifyReport verify(Verifier.Hooks hooks) {
        return verifier().hooks(hooks).build().run();
    }

    /** Appends events to a spool file as JSON lines. */
    Path appendSpool(String name, List<UsageEvent> events) throws IOException {
        StringBuilder sb = new StringBuilder();
        for (UsageEvent e : events) {
            sb.append(EventCodec.toJson(e)).append('\n');
        }
        return appendSpool(name, sb.toString());
    }

    Path appendSpool(String name, String text) throws IOException {
        Path f = spool.resolve(name);
        Files.writeString(f, text, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        return f;
    }

    /** Overwrites bytes of a file in place (same inode, same length). */
    static void overwrite(Path file, long offset, byte[] bytes) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap(bytes), offset);
        }
    }

    /** Byte offset of the first occurrence of {@code needle} in a file. */
    static long indexOf(Path file, String needle) throws IOException {
        String text = Files.readString(file, StandardCharsets.ISO_8859_1);
        int i = text.indexOf(needle);
        if (i < 0) {
            throw new AssertionError(needle + " not in " + file);
        }
        return i;
    }

    /** SHA-256 of every file below {@code dir} (and every directory, as an empty entry), by relative path. */
    static Map<String, String> hashTree(Path dir) throws Exception {
        Map<String, String> out = new TreeMap<>();
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.toList()) {
                String rel = dir.relativize(p).toString();
                if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                    out.put(rel + "/", "dir");
                } else {
                    MessageDigest md = MessageDigest.getInstance("SHA-256");
                    out.put(rel, HexFormat.of().formatHex(md.digest(Files.readAllBytes(p))));
                }
            }
        }
        return out;
    }
}
