package dev.tally.worker.http;

import java.util.Map;

/**
 * A request that cannot be served, answered as {@code {"error": code, "message": ...}} with its
 * HTTP status. {@code extra} fields are added to the JSON body.
 */
public final class ApiException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final int status;
    private final String code;
    private final transient Map<String, Object> extra;

    public ApiException(int status, String code, String message) {
        this(status, code, message, Map.of());
    }

    public ApiException(int status, String code, String message, Map<String, Object> extra) {
        super(message);
        this.status = status;
        this.code = code;
        this.extra = extra;
    }

    public int status() {
        return status;
    }

    public String code() {
        return code;
    }

    public Map<String, Object> extra() {
        return extra;
    }

    public static ApiException badRequest(String code, String message) {
        return new ApiException(400, code, message);
    }
}
