package dev.tally.store.sql;

/**
 * A sandboxed SQL statement was refused or failed. {@link #kind()} says which; the message says
 * what was refused and why, in words a person can act on.
 */
public final class SqlSandboxException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** Why the statement did not produce a result. */
    public enum Kind {
        /** Not one single SELECT: DDL, DML, SET, PRAGMA, ATTACH, COPY, several statements, … Nothing ran. */
        REJECTED,
        /** The statement tried something the sandbox forbids (a file, a setting, a write). */
        DENIED,
        /** The statement ran longer than the sandbox's time limit and was stopped. */
        TIMEOUT,
        /** The SQL is wrong: syntax, an unknown table or column, a type error. */
        INVALID,
        /** The statement failed otherwise (out of memory, an error while running). */
        FAILED
    }

    private final Kind kind;

    public SqlSandboxException(Kind kind, String message) {
        super(kind + ": " + message);
        this.kind = kind;
    }

    public SqlSandboxException(Kind kind, String message, Throwable cause) {
        super(kind + ": " + message, cause);
        this.kind = kind;
    }

    public Kind kind() {
        return kind;
    }
}
