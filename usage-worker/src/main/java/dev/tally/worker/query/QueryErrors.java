package dev.tally.worker.query;

import dev.tally.store.meter.InvalidMeterException;
import dev.tally.store.meter.MeterQueryException;
import dev.tally.store.sql.SqlSandboxException;
import dev.tally.worker.http.ApiException;

/**
 * How query and SQL failures are told to a caller: the HTTP status and error code for each, and
 * whether it is the caller's mistake (a bad parameter, SQL that is not one SELECT) or a question
 * the data cannot answer.
 */
public final class QueryErrors {
    private QueryErrors() {
    }

    /** The API error for a failed query or statement; other exceptions are returned unchanged. */
    public static RuntimeException api(RuntimeException e) {
        if (e instanceof QueryParams.BadParameter) {
            return new ApiException(400, "invalid_parameter", e.getMessage());
        }
        if (e instanceof InvalidMeterException m) {
            if (m.field().equals("meter")) {
                return new ApiException(404, "unknown_meter", e.getMessage());
            }
            return new ApiException(400, "invalid_query", e.getMessage());
        }
        if (e instanceof MeterQueryException) {
            return new ApiException(422, "cannot_answer", e.getMessage());
        }
        if (e instanceof SqlSandboxException s) {
            return switch (s.kind()) {
                case REJECTED -> new ApiException(400, "sql_rejected", e.getMessage());
                case INVALID -> new ApiException(400, "sql_invalid", e.getMessage());
                case DENIED -> new ApiException(403, "sql_denied", e.getMessage());
                case TIMEOUT -> new ApiException(422, "sql_timeout", e.getMessage());
                case RESULT_TOO_LARGE -> new ApiException(422, "sql_result_too_large", e.getMessage());
                case MEMORY_LIMIT -> new ApiException(422, "sql_memory_limit", e.getMessage());
                case OVERFLOW -> new ApiException(422, "sql_overflow", e.getMessage());
                case BUSY -> new ApiException(429, "sql_busy", e.getMessage(), java.util.Map.of("retry_after", 1));
                case FAILED -> new ApiException(500, "sql_failed", e.getMessage());
            };
        }
        if (e instanceof IllegalArgumentException) {
            return new ApiException(400, "invalid_parameter", e.getMessage());
        }
        return e;
    }

    /** Whether a failure is the caller's mistake (exit code 2 on the command line) rather than the store's. */
    public static boolean isCallerMistake(RuntimeException e) {
        if (e instanceof SqlSandboxException s) {
            return switch (s.kind()) {
                case REJECTED, INVALID, DENIED, RESULT_TOO_LARGE, MEMORY_LIMIT, OVERFLOW -> true;
                case TIMEOUT, BUSY, FAILED -> false;
            };
        }
        return e instanceof IllegalArgumentException && !(e instanceof MeterQueryException);
    }

    /** The media type of a rendered result. */
    public static String contentType(QueryParams.Format f) {
        return switch (f) {
            case JSON -> "application/json; charset=utf-8";
            case CSV -> "text/csv; charset=utf-8";
            case TABLE -> "text/plain; charset=utf-8";
        };
    }
}
