package dev.tally.store.dlq;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tally.store.ReadOnlyStoreException;
import dev.tally.store.RejectReason;
import dev.tally.store.StoreException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DeadLetterQueueTest {
    static final Instant T0 = Instant.parse("2026-11-20T10:00:00Z");

    @TempDir
    Path data;

    /** A line that parses, for an event with {@code id} and {@code subject}. */
    static String event(String id, String subject) {
        return "{\"tenant\":\"acme\",\"id\":\"" + id + "\",\"type\":\"llm.request\",\"subject\":\"" + subject
                + "\",\"time\":\"2026-11-20T10:00:00Z\",\"data\":{\"input_tokens\":1}}";
    }

    static DeadLetter entry(String text, long offset, RejectReason reason) {
        byte[] b = text.getBytes(StandardCharsets.UTF_8);
        return DeadLetter.of("spool:in/a.jsonl", offset, reason, "refused", b, b.length, T0);
    }

    static dev.tally.store.UsageEvent parse(String line) {
        try {
            return dev.tally.store.EventCodec.parse(line);
        } catch (dev.tally.store.EventRejectedException e) {
            throw new AssertionError(e);
        }
    }

    static Clock at(Instant t) {
        return Clock.fixed(t, ZoneOffset.UTC);
    }

    /** An entry whose add() returned is found by a fresh instance opened as after a crash, without close. */
    @Test
    void add_thenCrash_entrySurvivesReopen() {
        DeadLetterQueue q = DeadLetterQueue.open(data, false);
        DeadLetter e = entry("{oops", 42, RejectReason.INVALID_JSON);
        assertEquals(1, q.add(List.of(e)));
        // No close, no flush: the instance is abandoned as a crashed process would leave it.
        DeadLetterQueue after = DeadLetterQueue.open(data, false);
        assertEquals(List.of(e), after.list());
        assertEquals(Map.of(RejectReason.INVALID_JSON, 1L), after.countsByReason());
    }

    /** A torn last line (a write interrupted by a crash) is truncated on open and the complete entries are kept. */
    @Test
    void open_tornLastLine_truncated() throws IOException {
        DeadLetterQueue q = DeadLetterQueue.open(data, false);
        q.add(List.of(entry("{a", 1, RejectReason.INVALID_JSON), entry("{b", 2, RejectReason.INVALID_JSON)));
        long good = Files.size(q.queueFile());
        Files.writeString(q.queueFile(), "{\"source\":\"spool:in/a.jsonl\",\"off", StandardOpenOption.APPEND);

        DeadLetterQueue reopened = DeadLetterQueue.open(data, false);
        assertEquals(2, reopened.size());
        assertEquals(good, Files.size(q.queueFile()));
        reopened.add(List.of(entry("{c", 3, RejectReason.INVALID_JSON)));
        assertEquals(3, DeadLetterQueue.open(data, false).size());
    }

    /** A complete line that is not an entry is damage: the queue refuses to open rather than guess. */
    @Test
    void open_damagedCompleteLine_refused() throws IOException {
        DeadLetterQueue q = DeadLetterQueue.open(data, false);
        q.add(List.of(entry("{a", 1, RejectReason.INVALID_JSON)));
        Files.writeString(q.queueFile(), "garbage\n", StandardOpenOption.APPEND);
        assertThrows(StoreException.class, () -> DeadLetterQueue.open(data, false));
    }

    /** Adding the same refused line again (an import retried after a crash) does not queue it twice. */
    @Test
    void add_sameLineTwice_queuedOnce() {
        DeadLetterQueue q = DeadLetterQueue.open(data, false);
        assertEquals(1, q.add(List.of(entry("{a", 1, RejectReason.INVALID_JSON))));
        assertEquals(0, q.add(List.of(entry("{a", 1, RejectReason.INVALID_JSON))));
        assertEquals(1, q.add(List.of(entry("{a", 2, RejectReason.INVALID_JSON))));
        assertEquals(2, DeadLetterQueue.open(data, false).size());
    }

    /** Invalid UTF-8 is kept as base64, and an original over the cap is truncated with its full length recorded. */
    @Test
    void of_binaryAndOversizedOriginals_keptAsBase64AndTruncated() {
        byte[] binary = {'{', (byte) 0xC3, (byte) 0x28, '}'};
        DeadLetter b = DeadLetter.of("s", 0, RejectReason.MALFORMED_UTF8, "m", binary, binary.length, T0);
        assertNull(b.text());
        assertArrayEquals(binary, b.originalBytes());

        byte[] big = new byte[DeadLetter.DEFAULT_MAX_ORIGINAL_BYTES + 10];
        Arrays.fill(big, (byte) 'x');
        DeadLetter t = DeadLetter.of("s", 0, RejectReason.LINE_TOO_LONG, "m", big, 5_000_000, T0);
        assertTrue(t.truncated());
        assertEquals(5_000_000, t.length());
        assertEquals(DeadLetter.DEFAULT_MAX_ORIGINAL_BYTES, t.text().length());

        DeadLetterQueue q = DeadLetterQueue.open(data, false);
        q.add(List.of(b, t));
        List<DeadLetter> back = DeadLetterQueue.open(data, false).list();
        assertEquals(List.of(b, t), back);
    }

    /** Replay removes entries the store now takes (or already had), counts another attempt for those still refused, and moves an entry to dead/ at the last attempt. */
    @Test
    void replay_fixedFailingAndExhaustedEntries_handledEach() {
        FakeUsageStore store = new FakeUsageStore();
        store.refuse = e -> e.subject().equals("old") ? RejectReason.TIME_TOO_OLD : null;
        store.append(List.of(parse(event("dup", "s"))));
        DeadLetterQueue q = DeadLetterQueue.open(data, false, 3);
        q.add(List.of(
                entry(event("fixed", "s"), 1, RejectReason.TIME_TOO_OLD),
                entry(event("dup", "s"), 2, RejectReason.TIME_TOO_OLD),
                entry(event("stale", "old"), 3, RejectReason.TIME_TOO_OLD),
                entry("{never", 4, RejectReason.INVALID_JSON)));

        ReplayReport r1 = q.replay(store, at(T0.plusSeconds(60)));
        assertEquals(new ReplayReport(4, 1, 1, 2, 0), r1);
        List<DeadLetter> left = q.list();
        assertEquals(List.of(3L, 4L), left.stream().map(DeadLetter::offset).toList());
        assertEquals(List.of(2, 2), left.stream().map(DeadLetter::attempts).toList());
        assertEquals(T0.plusSeconds(60), left.get(0).lastAttempt());
        assertEquals(T0, left.get(0).firstSeen());
        assertEquals(RejectReason.TIME_TOO_OLD, left.get(0).reason());
        assertEquals(List.of("fixed"), store.stored.stream().skip(1).map(e -> e.id()).toList());

        ReplayReport r2 = q.replay(store, at(T0.plusSeconds(120)));
        assertEquals(new ReplayReport(2, 0, 0, 0, 2), r2);
        assertEquals(0, q.size());
        List<DeadLetter> dead = q.listDead();
        assertEquals(List.of(3, 3), dead.stream().map(DeadLetter::attempts).toList());
        assertEquals(RejectReason.INVALID_JSON, dead.get(1).reason());

        DeadLetterQueue reopened = DeadLetterQueue.open(data, false, 3);
        assertEquals(0, reopened.size());
        assertEquals(2, reopened.listDead().size());
        // A line already given up on is not queued again.
        assertEquals(0, reopened.add(List.of(entry("{never", 4, RejectReason.INVALID_JSON))));
    }

    /** A store failure during replay leaves the failed batch's entries exactly as they were. */
    @Test
    void replay_storeFails_queueUnchanged() throws IOException {
        FakeUsageStore store = new FakeUsageStore();
        DeadLetterQueue q = DeadLetterQueue.open(data, false);
        q.add(List.of(entry(event("a", "s"), 1, RejectReason.TIME_IN_FUTURE)));
        byte[] before = Files.readAllBytes(q.queueFile());
        store.failNextAppends = 1;
        assertThrows(StoreException.class, () -> q.replay(store, at(T0)));
        assertArrayEquals(before, Files.readAllBytes(q.queueFile()));
        assertEquals(1, q.list().get(0).attempts());
        assertEquals(new ReplayReport(1, 1, 0, 0, 0), q.replay(store, at(T0)));
    }

    /** A read-only queue refuses add and replay, does not repair a torn line, and leaves every file byte-identical. */
    @Test
    void readOnly_refusesWritesAndLeavesFilesByteIdentical() throws IOException {
        DeadLetterQueue w = DeadLetterQueue.open(data, false, 2);
        w.add(List.of(entry("{x", 1, RejectReason.INVALID_JSON), entry("{y", 2, RejectReason.INVALID_JSON)));
        w.replay(new FakeUsageStore(), at(T0)); // both reach 2 attempts: dead
        w.add(List.of(entry("{z", 3, RejectReason.INVALID_JSON)));
        Files.writeString(w.queueFile(), "{\"torn", StandardOpenOption.APPEND);
        byte[] queue = Files.readAllBytes(w.queueFile());
        byte[] dead = Files.readAllBytes(w.deadFile());

        DeadLetterQueue ro = DeadLetterQueue.open(data, true);
        assertTrue(ro.readOnly());
        assertEquals(1, ro.size());
        assertEquals(2, ro.listDead().size());
        assertThrows(ReadOnlyStoreException.class, () -> ro.add(List.of(entry("{n", 9, RejectReason.INVALID_JSON))));
        assertThrows(ReadOnlyStoreException.class, () -> ro.replay(new FakeUsageStore(), at(T0)));
        assertArrayEquals(queue, Files.readAllBytes(w.queueFile()));
        assertArrayEquals(dead, Files.readAllBytes(w.deadFile()));

        Path empty = Files.createDirectories(data.resolve("other"));
        DeadLetterQueue none = DeadLetterQueue.open(empty, true);
        assertEquals(0, none.size());
        assertFalse(Files.exists(empty.resolve(DeadLetterQueue.DLQ_DIR)));
    }

    /** A temporary file left by an interrupted rewrite is removed on open and does not replace the queue. */
    @Test
    void open_leftoverTempFile_removed() throws IOException {
        DeadLetterQueue q = DeadLetterQueue.open(data, false);
        q.add(List.of(entry("{a", 1, RejectReason.INVALID_JSON)));
        Path tmp = q.queueFile().resolveSibling(DeadLetterQueue.QUEUE_FILE + ".tmp");
        Files.writeString(tmp, "half a rewrite");
        DeadLetterQueue again = DeadLetterQueue.open(data, false);
        assertFalse(Files.exists(tmp));
        assertEquals(1, again.size());
    }
}
