package dev.tally.worker.cli;

/** The worker's exit codes, documented in {@code --help} and docs/operations.md. */
public final class ExitCodes {
    /** Success. */
    public static final int OK = 0;
    /** A check found something: repair check found damaged parts (verify: changed or missing events). */
    public static final int CHANGES_FOUND = 1;
    /** The command line is wrong (unknown option, bad value). */
    public static final int USAGE = 2;
    /** A configuration value is invalid; the message names the key, value and reason. */
    public static final int CONFIG = 3;
    /** The store cannot be opened or used (locked by another worker, damaged manifest, disk error). */
    public static final int STORE = 4;
    /** An unrecoverable error while running (e.g. an fsync failed); the daemon stops loudly. */
    public static final int FATAL = 5;

    public static final String HELP = "%nExit codes:%n"
            + "  0  success%n"
            + "  1  a check found a problem (repair check: damaged parts; verify --fail-on-change: drift)%n"
            + "  2  bad command line%n"
            + "  3  invalid configuration (the message names the key, value and reason)%n"
            + "  4  the store cannot be opened or used (locked, damaged, disk error)%n"
            + "  5  unrecoverable error while running (e.g. fsync failed)%n";

    private ExitCodes() {
    }
}
