package dev.tally.store;

import java.util.Locale;
import java.util.concurrent.ThreadLocalRandom;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns engine (DuckDB) and I/O failures into text a tenant may see. An engine message can quote
 * a value it choked on (of any tenant whose rows share a damaged file) and name server paths, so
 * the caller gets only a {@link ErrorClass class} and an incident id; the full text goes to the
 * log under that id. Stateless and thread-safe.
 */
public final class EngineErrors {
    private static final Logger log = LoggerFactory.getLogger(EngineErrors.class);
    /** An absolute path: a slash-led run of path characters (two segments at least, or a known root). */
    private static final Pattern ABSOLUTE_PATH = Pattern.compile(
            "(?<![\\w.])(?:[A-Za-z]:)?[/\\\\](?:[^\\s'\"`,;:()\\[\\]{}<>/\\\\]+[/\\\\])+[^\\s'\"`,;:()\\[\\]{}<>]*");

    private EngineErrors() {
    }

    /** What kind of failure an engine message describes, without its details. */
    public enum ErrorClass {
        /** Stored data could not be decoded (a damaged file, invalid encoding, a bad checksum). */
        DAMAGED_DATA("stored data could not be decoded (damaged or unreadable file)"),
        /** The engine ran out of its memory budget. */
        OUT_OF_MEMORY("the engine ran out of its memory budget"),
        /** The statement was interrupted (a time limit or a shutdown). */
        INTERRUPTED("the statement was interrupted"),
        /** A file could not be read or written. */
        IO("a file could not be read or written"),
        /** Anything else the engine reported. */
        ENGINE("the engine reported an internal error");

        private final String description;

        ErrorClass(String description) {
            this.description = description;
        }

        /** A sentence fragment safe to show anyone. */
        public String description() {
            return description;
        }

        /** The class name as clients see it: lower snake case. */
        public String code() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /**
     * A failure as a tenant may see it.
     *
     * @param errorClass what kind of failure
     * @param incident   the id under which the full text was logged
     * @param message    {@code context + ": " + class description + incident}; no engine text
     */
    public record Redacted(ErrorClass errorClass, String incident, String message) {
    }

    /** Classifies an engine message by DuckDB's error-type prefix and a few telling words. */
    public static ErrorClass classify(Throwable e) {
        String m = String.valueOf(e == null ? "" : e.getMessage());
        if (m.contains("Out of Memory") || m.contains("could not allocate") || m.contains("failed to allocate")) {
            return ErrorClass.OUT_OF_MEMORY;
        }
        if (m.contains("INTERRUPT") || m.contains("Interrupted") || m.contains("maximum execution time")) {
            return ErrorClass.INTERRUPTED;
        }
        if (m.contains("UTF8") || m.contains("UTF-8") || m.contains("Corrupt") || m.contains("corrupt")
                || m.contains("Serialization Error") || m.contains("Parquet") || m.contains("parquet")
                || m.contains("checksum") || m.contains("magic bytes") || m.contains("Failed to read file")
                || m.contains("invalid string encoding") || m.contains("Invalid string encoding")) {
            return ErrorClass.DAMAGED_DATA;
        }
        if (m.contains("IO Error") || e instanceof java.io.IOException) {
            return ErrorClass.IO;
        }
        return ErrorClass.ENGINE;
    }

    /**
     * Logs {@code e} in full under a new incident id and returns the text a tenant may see:
     * {@code context}, the class and the incident id.
     */
    public static Redacted redact(String context, Throwable e) {
        ErrorClass c = classify(e);
        String incident = newIncident();
        log.warn("{} failed ({}; incident {})", context, c.code(), incident, e);
        return new Redacted(c, incident, context + " failed: " + c.description() + " [" + c.code() + "]; incident "
                + incident + " (the full engine message is in the server's log)");
    }

    /** A fresh incident id: 16 hex digits. */
    public static String newIncident() {
        return String.format(Locale.ROOT, "%016x", ThreadLocalRandom.current().nextLong());
    }

    /** {@code s} with every absolute path replaced by {@code <path>}. */
    public static String scrubPaths(String s) {
        return s == null ? null : ABSOLUTE_PATH.matcher(s).replaceAll("<path>");
    }
}
