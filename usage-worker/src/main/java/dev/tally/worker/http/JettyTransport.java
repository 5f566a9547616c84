package dev.tally.worker.http;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.BindException;
import java.nio.ByteBuffer;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import org.eclipse.jetty.alpn.server.ALPNServerConnectionFactory;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpHeaderValue;
import org.eclipse.jetty.http.HttpStatus;
import org.eclipse.jetty.http2.HTTP2Cipher;
import org.eclipse.jetty.http2.server.HTTP2CServerConnectionFactory;
import org.eclipse.jetty.http2.server.HTTP2ServerConnectionFactory;
import org.eclipse.jetty.io.Connection;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.ConnectionFactory;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.NetworkConnectionLimit;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.SslConnectionFactory;
import org.eclipse.jetty.server.handler.ErrorHandler;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.ssl.SslContextFactory;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.eclipse.jetty.util.thread.Scheduler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The HTTP API's transport on Jetty: it accepts connections, enforces the limits of
 * {@link HttpServerSettings}, reads each request body in full without holding a thread, and only
 * then hands the request to the route handlers as an {@link HttpExchange}. The handlers' logic
 * lives in {@link HttpApi}; nothing here knows a route.
 *
 * <p>What bounds a hostile client:
 * <ul>
 *   <li>slow headers: a connection that started a request but has not completed its headers
 *       within {@code http.header-timeout} is closed ({@link HeaderWatchdog}); Jetty's parser
 *       never holds a thread while it waits;</li>
 *   <li>slow bodies: the body is read asynchronously, so waiting costs no thread; a body not
 *       complete within {@code http.request-timeout} gets 408 and the connection is closed;</li>
 *   <li>connection floods: at most {@code http.max-connections} are open; at the limit, idle
 *       connections are closed after {@code http.header-timeout} instead of
 *       {@code http.idle-timeout};</li>
 *   <li>sizes: request line plus headers above {@code http.max-header-bytes} get 431, bodies above
 *       {@code http.max-request-bytes} get 413 (from the handlers, which see at most one byte more
 *       than the limit).</li>
 * </ul>
 *
 * <p>Thread-safe: Jetty serializes its own state; the watchdog's map is concurrent.
 */
final class JettyTransport implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(JettyTransport.class);
    private static final String JSON = "application/json; charset=utf-8";
    /** The smallest accept queue, whatever http.max-connections says (the JVM's own default is 50). */
    static final int ACCEPT_QUEUE_MIN = 128;

    private final Server server;
    private final ServerConnector connector;

    private JettyTransport(Server server, ServerConnector connector) {
        this.server = server;
        this.connector = connector;
    }

    /**
     * Binds and starts serving; every complete request goes to {@code handler} on a pool thread.
     *
     * @throws IOException when the address cannot be bound or the key store cannot be read
     */
    static JettyTransport start(HttpServerSettings s, Consumer<HttpExchange> handler) throws IOException {
        // Jetty leases one acceptor and one selector thread from the pool; the rest run handlers.
        QueuedThreadPool pool = new QueuedThreadPool(s.threads() + 2, Math.min(s.threads() + 2, 4));
        pool.setName("tally-http");
        pool.setDaemon(true);
        pool.setReservedThreads(0);
        Server server = new Server(pool);
        server.setStopTimeout(0); // HttpApi drains requests itself before stopping the server

        HttpConfiguration http = new HttpConfiguration();
        http.setSendServerVersion(false);
        http.setSendXPoweredBy(false);
        http.setRequestHeaderSize(s.maxHeaderBytes());
        http.setIdleTimeout(s.idleTimeout().toMillis());
        HttpConnectionFactory http1 = new HttpConnectionFactory(http);
        ServerConnector connector;
        if (s.tls()) {
            SslContextFactory.Server ssl = new SslContextFactory.Server();
            ssl.setKeyStorePath(s.keyStore().toString());
            ssl.setKeyStorePassword(s.keyStorePassword());
            ssl.setCipherComparator(HTTP2Cipher.COMPARATOR);
            HTTP2ServerConnectionFactory h2 = new HTTP2ServerConnectionFactory(http);
            ALPNServerConnectionFactory alpn = new ALPNServerConnectionFactory("h2", "http/1.1");
            alpn.setDefaultProtocol(http1.getProtocol());
            ConnectionFactory tls = new SslConnectionFactory(ssl, alpn.getProtocol());
            connector = new ServerConnector(server, 1, 1, tls, alpn, h2, http1);
        } else {
            // HTTP/1.1, plus h2c by upgrade or with prior knowledge.
            connector = new ServerConnector(server, 1, 1, http1, new HTTP2CServerConnectionFactory(http));
        }
        connector.setHost(s.host());
        connector.setPort(s.port());
        connector.setIdleTimeout(s.idleTimeout().toMillis());
        // The kernel's queue of connections not yet accepted. When a burst of new connections
        // outruns the one acceptor thread and fills it, the kernel drops the next SYN and that
        // client (a health check, say) retries after a whole second; so the queue holds as many
        // connections as the worker will keep open (the kernel caps it at net.core.somaxconn).
        connector.setAcceptQueueSize(Math.max(ACCEPT_QUEUE_MIN, s.maxConnections()));
        HeaderWatchdog watchdog = new HeaderWatchdog(connector, s.headerTimeout().toMillis());
        connector.addBean(watchdog);
        server.addConnector(connector);

        NetworkConnectionLimit limit = new NetworkConnectionLimit(s.maxConnections(), connector);
        limit.setEndPointIdleTimeout(s.headerTimeout().toMillis());
        server.addBean(limit);
        server.setErrorHandler(new JsonErrorHandler());
        server.setHandler(new ApiHandler(s, handler, watchdog));
        try {
            server.start();
        } catch (IOException e) {
            stopQuietly(server);
            throw e;
        } catch (Exception e) {
            stopQuietly(server);
            Throwable c = e.getCause() instanceof IOException io ? io : e;
            if (c instanceof BindException b) {
                throw b;
            }
            throw new IOException(c.getMessage(), c);
        }
        return new JettyTransport(server, connector);
    }

    private static void stopQuietly(Server server) {
        try {
            server.stop();
        } catch (Exception e) {
            log.debug("stopping the HTTP server after a failed start: {}", e.toString());
        }
    }

    int port() {
        return connector.getLocalPort();
    }

    String host() {
        return connector.getHost();
    }

    /** Closes the listener and every connection at once. */
    @Override
    public void close() {
        try {
            server.stop();
        } catch (Exception e) {
            log.warn("stopping the HTTP server: {}", e.toString());
        }
    }

    // ---------------------------------------------------------------- request intake

    /** Reads each body asynchronously, then runs the handler. Thread-safe: no mutable state. */
    private static final class ApiHandler extends Handler.Abstract {
        private final HttpServerSettings settings;
        private final Consumer<HttpExchange> handler;
        private final HeaderWatchdog watchdog;

        ApiHandler(HttpServerSettings settings, Consumer<HttpExchange> handler, HeaderWatchdog watchdog) {
            super(InvocationType.BLOCKING);
            this.settings = settings;
            this.handler = handler;
            this.watchdog = watchdog;
        }

        @Override
        public boolean handle(Request request, Response response, Callback callback) {
            Connection connection = request.getConnectionMetaData().getConnection();
            watchdog.requestBegun(connection);
            Request.addCompletionListener(request, failure -> watchdog.requestEnded(connection));
            long declared = request.getLength();
            boolean chunked = declared < 0 && request.getHeaders().contains(HttpHeader.TRANSFER_ENCODING);
            if ((declared <= 0 && !chunked) || declared > settings.maxRequestBytes()) {
                // No body, or one the handler refuses from its Content-Length alone (413) without reading it.
                handler.accept(new JettyExchange(request, response, callback, new byte[0]));
                return true;
            }
            new BodyReader(request, response, callback, settings, handler).start();
            return true;
        }
    }

    /**
     * Collects a body (at most the limit + 1 bytes) from demand callbacks, then runs the handler in
     * the thread of the last callback. Racing it, a timer answers 408 when the body is late; an
     * atomic flag lets exactly one of them finish the exchange.
     *
     * <p>Thread-safe: Jetty runs at most one demand callback at a time; {@link #done} decides the race.
     */
    private static final class BodyReader implements Runnable {
        private final Request request;
        private final Response response;
        private final Callback callback;
        private final Consumer<HttpExchange> handler;
        private final long limit;
        private final ByteArrayOutputStream body;
        private final AtomicBoolean done = new AtomicBoolean();
        private final long timeoutMillis;
        private volatile Scheduler.Task timer;

        BodyReader(Request request, Response response, Callback callback, HttpServerSettings s,
                Consumer<HttpExchange> handler) {
            this.request = request;
            this.response = response;
            this.callback = callback;
            this.handler = handler;
            this.limit = s.maxRequestBytes() + 1;
            long declared = request.getLength();
            this.body = new ByteArrayOutputStream((int) Math.min(declared > 0 ? declared : 8192, limit));
            this.timeoutMillis = s.requestTimeout().toMillis();
        }

        void start() {
            timer = request.getComponents().getScheduler().schedule(this::timedOut, timeoutMillis,
                    TimeUnit.MILLISECONDS);
            run();
        }

        @Override
        public void run() {
            while (!done.get()) {
                Content.Chunk chunk = request.read();
                if (chunk == null) {
                    request.demand(this);
                    return;
                }
                if (Content.Chunk.isFailure(chunk)) {
                    Throwable failure = chunk.getFailure();
                    chunk.release();
                    if (failure instanceof TimeoutException) {
                        timedOut(); // Jetty's idle timeout while waiting for body bytes
                    } else if (done.compareAndSet(false, true)) {
                        timer.cancel();
                        callback.failed(failure);
                    }
                    return;
                }
                ByteBuffer b = chunk.getByteBuffer();
                int take = (int) Math.min(b.remaining(), limit - body.size());
                if (take > 0) {
                    byte[] copy = new byte[take];
                    b.get(copy);
                    body.write(copy, 0, take);
                }
                boolean last = chunk.isLast() || body.size() >= limit;
                chunk.release();
                if (last) {
                    if (done.compareAndSet(false, true)) {
                        timer.cancel();
                        handler.accept(new JettyExchange(request, response, callback, body.toByteArray()));
                    }
                    return;
                }
            }
        }

        private void timedOut() {
            if (!done.compareAndSet(false, true)) {
                return;
            }
            String message = "the request body did not arrive within http.request-timeout = " + timeoutMillis
                    + " ms; send the whole body at once";
            response.setStatus(HttpStatus.REQUEST_TIMEOUT_408);
            response.getHeaders().put(HttpHeader.CONNECTION, HttpHeaderValue.CLOSE.asString());
            writeJson(response, Json.bytes(Json.error("request_timeout", message, Map.of())), callback);
        }
    }

    private static void writeJson(Response response, byte[] body, Callback callback) {
        HttpFields.Mutable h = response.getHeaders();
        h.put(HttpHeader.CONTENT_TYPE, JSON);
        h.put(HttpHeader.CACHE_CONTROL, "no-store");
        h.put(HttpHeader.CONTENT_LENGTH, body.length);
        response.write(true, ByteBuffer.wrap(body), callback);
    }

    /** An exchange over a Jetty request. Not thread-safe: one handler thread uses it. */
    private static final class JettyExchange extends HttpExchange {
        private final Request request;
        private final Response response;
        private final Callback callback;

        JettyExchange(Request request, Response response, Callback callback, byte[] body) {
            super(body);
            this.request = request;
            this.response = response;
            this.callback = callback;
        }

        @Override
        public RequestUri getRequestURI() {
            return new RequestUri(request.getHttpURI().getPath(), request.getHttpURI().getQuery());
        }

        @Override
        public String getRequestMethod() {
            return request.getMethod();
        }

        @Override
        public RequestHeaders getRequestHeaders() {
            return name -> request.getHeaders().get(name);
        }

        @Override
        public ResponseHeaders getResponseHeaders() {
            return (name, value) -> response.getHeaders().put(name, value);
        }

        @Override
        protected void complete(int status, byte[] body) {
            response.setStatus(status);
            if (body.length == 0) {
                response.getHeaders().put(HttpHeader.CONTENT_LENGTH, 0);
                response.write(true, null, callback);
            } else {
                response.getHeaders().put(HttpHeader.CONTENT_LENGTH, body.length);
                response.write(true, ByteBuffer.wrap(body), callback);
            }
        }

        @Override
        protected void abort() {
            callback.failed(new InterruptedIOException("the handler gave up on the exchange"));
        }
    }

    // ---------------------------------------------------------------- header timeout

    /**
     * Closes HTTP/1 connections that started sending a request but did not complete its headers
     * within the header timeout. Jetty's idle timeout alone restarts with every byte, so a client
     * sending one byte per second would keep a connection forever.
     *
     * <p>Each connection is checked every timeout period: when no request is running and no new
     * request began, yet bytes arrived since the last complete point, a request's headers are
     * under way; when a later check, a whole timeout after the first that saw them, finds them
     * still incomplete, they are being trickled and the connection is closed (after one to two
     * timeouts). Closing at the first sight would cut a keep-alive client whose next request
     * arrived just after its last one ended. Connections that send nothing are left to the idle
     * timeout.
     *
     * <p>Thread-safe: the map is concurrent; each {@link Watch} is read and written with atomics
     * and volatiles.
     */
    static final class HeaderWatchdog implements Connection.Listener {
        private final ServerConnector connector;
        private final long timeoutMillis;
        private final Map<Connection, Watch> watches = new ConcurrentHashMap<>();

        HeaderWatchdog(ServerConnector connector, long timeoutMillis) {
            this.connector = connector;
            this.timeoutMillis = timeoutMillis;
        }

        /** Per-connection progress: the last point with no request part-read, and since when one has been. */
        private static final class Watch {
            final AtomicInteger running = new AtomicInteger();
            volatile long messages;
            volatile long bytes;
            /** When a check first saw bytes of headers not yet complete (nanoTime), or 0. */
            volatile long partSince;
        }

        @Override
        public void onOpened(Connection connection) {
            // Only HTTP/1: HTTP/2 has its own stream and session timeouts, and TLS wraps an HTTP/1
            // connection that is opened (and watched) on its own.
            if (!(connection instanceof org.eclipse.jetty.server.internal.HttpConnection)) {
                return;
            }
            Watch w = new Watch();
            watches.put(connection, w);
            schedule(connection, w);
        }

        @Override
        public void onClosed(Connection connection) {
            watches.remove(connection);
        }

        void requestBegun(Connection connection) {
            Watch w = watches.get(connection);
            if (w != null) {
                w.running.incrementAndGet();
            }
        }

        void requestEnded(Connection connection) {
            Watch w = watches.get(connection);
            if (w != null) {
                w.messages = connection.getMessagesIn();
                w.bytes = connection.getBytesIn();
                w.partSince = 0;
                w.running.decrementAndGet();
            }
        }

        private void schedule(Connection connection, Watch w) {
            connector.getScheduler().schedule(() -> check(connection, w), timeoutMillis, TimeUnit.MILLISECONDS);
        }

        private void check(Connection connection, Watch w) {
            if (!watches.containsKey(connection) || !connection.getEndPoint().isOpen()) {
                return;
            }
            long messages = connection.getMessagesIn();
            long bytes = connection.getBytesIn();
            if (w.running.get() == 0 && messages == w.messages && bytes > w.bytes) {
                // Bytes of a request whose headers are not complete. They may have arrived a moment
                // ago (a keep-alive client's next request, right after the last one ended), so
                // the first sight only starts the clock: the connection is closed once they have
                // stayed incomplete for a whole timeout, never sooner.
                long now = System.nanoTime();
                if (w.partSince == 0) {
                    w.partSince = now;
                } else if (now - w.partSince >= TimeUnit.MILLISECONDS.toNanos(timeoutMillis)) {
                    log.debug("closing {}: request headers incomplete after {} ms", connection, timeoutMillis);
                    connection.getEndPoint().close(new TimeoutException("request headers incomplete after "
                            + timeoutMillis + " ms"));
                    return;
                }
            } else {
                w.messages = messages;
                w.bytes = bytes;
                w.partSince = 0;
            }
            schedule(connection, w);
        }
    }

    // ---------------------------------------------------------------- errors Jetty answers itself

    /**
     * Errors found before a request reaches the handlers (a malformed request line, headers too
     * large, an ambiguous path) in the API's JSON error shape. Thread-safe: stateless.
     */
    private static final class JsonErrorHandler extends ErrorHandler {
        @Override
        protected void generateResponse(Request request, Response response, int code, String message,
                Throwable cause, Callback callback) {
            String text = code >= 500 || message == null || message.isBlank() ? HttpStatus.getMessage(code) : message;
            byte[] body = Json.bytes(Json.error(errorCode(code), text, Map.of()));
            writeJson(response, body, callback);
        }

        private static String errorCode(int status) {
            return switch (status) {
                case 400 -> "bad_request";
                case 408 -> "request_timeout";
                case 413 -> "request_too_large";
                case 414 -> "uri_too_long";
                case 431 -> "headers_too_large";
                case 404 -> "not_found";
                case 405 -> "method_not_allowed";
                default -> status >= 500 ? "internal" : "http_" + status;
            };
        }
    }
}
