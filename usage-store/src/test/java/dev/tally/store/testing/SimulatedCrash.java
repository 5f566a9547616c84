package dev.tally.store.testing;

/**
 * What a test's crash hook throws to stop the store at a named step, as a process crash would;
 * the test then abandons the store without closing it and reopens the directory. {@code
 * CompactionCrashTest} throws an {@link Error} of its own instead, so no store code catches it
 * as a storage failure.
 */
public final class SimulatedCrash extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public SimulatedCrash(Object step) {
        super("simulated crash at " + step);
    }
}
