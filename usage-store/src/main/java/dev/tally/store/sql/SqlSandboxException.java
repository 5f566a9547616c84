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
        /** The result is larger than the sandbox's {@code maxResultBytes}; nothing was returned. */
        RESULT_TOO_LARGE,
        /** The statement needed more memory than the sandbox's {@code memoryLimit}; DuckDB refused it. */
        MEMORY_LIMIT,
        /**
         * A number does not fit its type: the statement's arithmetic or sum (BIGINT, HUGEINT,
         * DECIMAL(38,9)), or an hourly sum of the tenant's values while the sandbox was built.
         */
        OVERFLOW,
        /** As many statements as allowed are already running; nothing ran. Retry shortly. */
        BUSY,
        /** The statement failed otherwise; the message has an error class and an incident id only. */
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
