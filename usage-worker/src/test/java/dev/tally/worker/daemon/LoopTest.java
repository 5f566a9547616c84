package dev.tally.worker.daemon;

import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class LoopTest {
    /** The pause after failures doubles from one second and stops at the maximum. */
    @Test
    void backoff_doublesUpToTheMaximum() {
        Duration max = Duration.ofMinutes(1);
        assertEquals(Duration.ofSeconds(1), Loop.backoff(1, max));
        assertEquals(Duration.ofSeconds(2), Loop.backoff(2, max));
        assertEquals(Duration.ofSeconds(32), Loop.backoff(6, max));
        assertEquals(max, Loop.backoff(7, max));
        assertEquals(max, Loop.backoff(500, max));
    }

    /** A pass that throws is counted and retried; once a pass succeeds the loop is healthy again. */
    @Test
    void run_failingPass_isRetriedAndHealthRecovers() throws Exception {
        AtomicInteger calls = new AtomicInteger();
        AtomicReference<Throwable> fatal = new AtomicReference<>();
        Loop loop = new Loop("test", Duration.ofMillis(10), Duration.ofSeconds(5), () -> {
            if (calls.incrementAndGet() == 1) {
                throw new IllegalStateException("disk hiccup");
            }
            return false;
        }, t -> t instanceof Error, fatal::set, Clock.systemUTC());
        loop.start();
        await().atMost(Duration.ofSeconds(5)).until(() -> loop.health().failures() == 1);
        await().atMost(Duration.ofSeconds(10)).until(() -> loop.health().passes() >= 1);
        LoopHealth h = loop.health();
        assertEquals(0, h.consecutiveFailures());
        assertFalse(h.failing());
        assertTrue(h.running());
        assertEquals("", h.lastError());
        loop.stop();
        assertTrue(loop.await(Duration.ofSeconds(5)));
        assertFalse(loop.health().running());
        assertEquals(null, fatal.get());
    }

    /** An Error ends the loop at once and is handed to the fatal handler; the thread does not die silently. */
    @Test
    void run_error_isFatalAndReported() throws Exception {
        AtomicReference<Throwable> fatal = new AtomicReference<>();
        OutOfMemoryError boom = new OutOfMemoryError("simulated");
        Loop loop = new Loop("test", Duration.ofMillis(10), Duration.ofSeconds(5), () -> {
            throw boom;
        }, t -> t instanceof Error, fatal::set, Clock.systemUTC());
        loop.start();
        assertTrue(loop.await(Duration.ofSeconds(5)));
        assertSame(boom, fatal.get());
        LoopHealth h = loop.health();
        assertFalse(h.running());
        assertEquals(1, h.failures());
        assertEquals("simulated", h.lastError());
    }

    /** A kick starts the next pass without waiting out the interval; stop ends the loop after its pass. */
    @Test
    void kick_startsNextPassAtOnce() throws Exception {
        AtomicInteger calls = new AtomicInteger();
        Loop loop = new Loop("test", Duration.ofHours(1), Duration.ofSeconds(5), () -> {
            calls.incrementAndGet();
            return false;
        }, t -> true, t -> { }, Clock.systemUTC());
        loop.start();
        await().atMost(Duration.ofSeconds(5)).until(() -> calls.get() == 1);
        loop.kick();
        await().atMost(Duration.ofSeconds(5)).until(() -> calls.get() == 2);
        loop.stop();
        assertTrue(loop.await(Duration.ofSeconds(5)));
    }
}
