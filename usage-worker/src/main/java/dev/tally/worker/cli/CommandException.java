package dev.tally.worker.cli;

/** A command that cannot do its job, with the exit code to end with and a message for the user. */
public final class CommandException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final int exitCode;

    public CommandException(int exitCode, String message) {
        super(message);
        this.exitCode = exitCode;
    }

    public int exitCode() {
        return exitCode;
    }
}
