package dev.tally.worker.http;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

/**
 * One request and its response, as the route handlers in {@link HttpApi} see it. The method names
 * follow the subset of {@code com.sun.net.httpserver.HttpExchange} the handlers were written
 * against, so moving the API onto another transport left the handlers untouched.
 *
 * <p>The transport reads the whole body (up to {@code http.max-request-bytes} + 1 bytes) before
 * the handler runs, and the handler's response is buffered and written once on {@link #close()},
 * so a slow client never holds a handler thread.
 *
 * <p>Not thread-safe: one handler thread uses an exchange.
 */
public abstract class HttpExchange implements AutoCloseable {
    /** The request's path and query, both still percent-encoded. */
    public record RequestUri(String rawPath, String rawQuery) {
        public String getRawPath() {
            return rawPath;
        }

        /** Null when the request has no query. */
        public String getRawQuery() {
            return rawQuery;
        }
    }

    /** Read access to the request headers; names are case-insensitive. */
    public interface RequestHeaders {
        /** The first value of {@code name}, or null. */
        String getFirst(String name);
    }

    /** Write access to the response headers. */
    public interface ResponseHeaders {
        /** Replaces every value of {@code name} with {@code value}. */
        void set(String name, String value);
    }

    private final byte[] body;
    private int status;
    private ByteArrayOutputStream responseBody;

    /** @param body the request body as read by the transport (possibly cut at the size limit + 1) */
    protected HttpExchange(byte[] body) {
        this.body = body;
    }

    public abstract RequestUri getRequestURI();

    public abstract String getRequestMethod();

    public abstract RequestHeaders getRequestHeaders();

    public abstract ResponseHeaders getResponseHeaders();

    /** The request body read so far; see the class comment. */
    public InputStream getRequestBody() {
        return new ByteArrayInputStream(body);
    }

    /**
     * Sets the status; {@code length} is the body's size, or -1 for none. The body is written to
     * {@link #getResponseBody()} and sent on {@link #close()}.
     */
    public void sendResponseHeaders(int status, long length) throws IOException {
        if (this.status != 0) {
            throw new IOException("response headers already sent");
        }
        this.status = status;
        this.responseBody = new ByteArrayOutputStream(length > 0 ? (int) Math.min(length, 1 << 20) : 0);
    }

    public OutputStream getResponseBody() {
        if (responseBody == null) {
            throw new IllegalStateException("sendResponseHeaders first");
        }
        return responseBody;
    }

    /** Sends the response; when no status was set (the handler gave up), the transport aborts it. */
    @Override
    public final void close() {
        if (status == 0) {
            abort();
        } else {
            complete(status, responseBody.toByteArray());
        }
    }

    /** Writes the status, headers and body, and finishes the exchange. Called once. */
    protected abstract void complete(int status, byte[] body);

    /** Ends the exchange without a response (the connection is closed). Called once. */
    protected abstract void abort();
}
