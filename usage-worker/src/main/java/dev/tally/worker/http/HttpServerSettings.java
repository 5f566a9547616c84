package dev.tally.worker.http;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;

/**
 * How the HTTP transport listens and which limits it enforces. Build with {@link #builder()};
 * every knob has the default of its {@code http.*} setting (see docs/configuration.md).
 *
 * <p>Thread-safe: immutable.
 */
public final class HttpServerSettings {
    private final String host;
    private final int port;
    private final int threads;
    private final long maxRequestBytes;
    private final int maxHeaderBytes;
    private final int maxConnections;
    private final Duration headerTimeout;
    private final Duration idleTimeout;
    private final Duration requestTimeout;
    private final Path keyStore;
    private final String keyStorePassword;

    private HttpServerSettings(Builder b) {
        this.host = b.host;
        this.port = b.port;
        this.threads = b.threads;
        this.maxRequestBytes = b.maxRequestBytes;
        this.maxHeaderBytes = b.maxHeaderBytes;
        this.maxConnections = b.maxConnections;
        this.headerTimeout = b.headerTimeout;
        this.idleTimeout = b.idleTimeout;
        this.requestTimeout = b.requestTimeout;
        this.keyStore = b.keyStore;
        this.keyStorePassword = b.keyStorePassword;
    }

    public String host() {
        return host;
    }

    /** 0 picks a free port. */
    public int port() {
        return port;
    }

    /** Threads that run request handlers. */
    public int threads() {
        return threads;
    }

    public long maxRequestBytes() {
        return maxRequestBytes;
    }

    /** Largest request line plus headers; larger ones get 431. */
    public int maxHeaderBytes() {
        return maxHeaderBytes;
    }

    /** Open connections at most; beyond it the listener stops accepting until one closes. */
    public int maxConnections() {
        return maxConnections;
    }

    /** Time a client has to complete a request's headers once it sent their first byte. */
    public Duration headerTimeout() {
        return headerTimeout;
    }

    /** A connection with no traffic for this long is closed. */
    public Duration idleTimeout() {
        return idleTimeout;
    }

    /** Time a client has to send a request's whole body once its headers arrived; else 408. */
    public Duration requestTimeout() {
        return requestTimeout;
    }

    /** A PKCS12 (or JKS) key store: when set the API speaks HTTPS only (HTTP/1.1 and h2 by ALPN); null for
     *  cleartext HTTP/1.1 and h2c. */
    public Path keyStore() {
        return keyStore;
    }

    /** The key store's password; null without a key store. */
    public String keyStorePassword() {
        return keyStorePassword;
    }

    /** True when the API serves HTTPS. */
    public boolean tls() {
        return keyStore != null;
    }

    @Override
    public String toString() {
        // Never print the password.
        return "HttpServerSettings[" + host + ":" + port + ", threads=" + threads + ", maxRequestBytes="
                + maxRequestBytes + ", maxHeaderBytes=" + maxHeaderBytes + ", maxConnections=" + maxConnections
                + ", headerTimeout=" + headerTimeout + ", idleTimeout=" + idleTimeout + ", requestTimeout="
                + requestTimeout + ", tls=" + tls() + "]";
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Not thread-safe. */
    public static final class Builder {
        private String host = "127.0.0.1";
        private int port = 8080;
        private int threads = 8;
        private long maxRequestBytes = 16L << 20;
        private int maxHeaderBytes = 16 << 10;
        private int maxConnections = 512;
        private Duration headerTimeout = Duration.ofSeconds(10);
        private Duration idleTimeout = Duration.ofSeconds(30);
        private Duration requestTimeout = Duration.ofSeconds(60);
        private Path keyStore;
        private String keyStorePassword;

        private Builder() {
        }

        public Builder host(String host) {
            this.host = Objects.requireNonNull(host, "http.host");
            return this;
        }

        /** 0 picks a free port. */
        public Builder port(int port) {
            check(port >= 0 && port <= 65_535, "http.port", port, "0..65535");
            this.port = port;
            return this;
        }

        public Builder threads(int threads) {
            check(threads >= 1 && threads <= 256, "http.threads", threads, "1..256");
            this.threads = threads;
            return this;
        }

        public Builder maxRequestBytes(long bytes) {
            check(bytes >= 1 << 10 && bytes <= 1L << 30, "http.max-request-bytes", bytes, "1KiB..1GiB");
            this.maxRequestBytes = bytes;
            return this;
        }

        public Builder maxHeaderBytes(long bytes) {
            check(bytes >= 1 << 10 && bytes <= 1 << 20, "http.max-header-bytes", bytes, "1KiB..1MiB");
            this.maxHeaderBytes = (int) bytes;
            return this;
        }

        public Builder maxConnections(int n) {
            check(n >= 1 && n <= 100_000, "http.max-connections", n, "1..100000");
            this.maxConnections = n;
            return this;
        }

        public Builder headerTimeout(Duration d) {
            this.headerTimeout = positive("http.header-timeout", d);
            return this;
        }

        public Builder idleTimeout(Duration d) {
            this.idleTimeout = positive("http.idle-timeout", d);
            return this;
        }

        public Builder requestTimeout(Duration d) {
            this.requestTimeout = positive("http.request-timeout", d);
            return this;
        }

        /** Serves HTTPS with the key store at {@code path}; null for cleartext. */
        public Builder keyStore(Path path, String password) {
            if (path != null && password == null) {
                throw new IllegalArgumentException("http.tls.keystore = " + path + " needs a password "
                        + "(http.tls.keystore-password-file)");
            }
            this.keyStore = path;
            this.keyStorePassword = path == null ? null : password;
            return this;
        }

        public HttpServerSettings build() {
            return new HttpServerSettings(this);
        }

        private static Duration positive(String knob, Duration d) {
            if (d == null || d.isNegative() || d.isZero()) {
                throw new IllegalArgumentException(knob + " = " + d + " must be positive");
            }
            return d;
        }

        private static void check(boolean ok, String knob, long value, String range) {
            if (!ok) {
                throw new IllegalArgumentException(knob + " = " + value + " is outside " + range);
            }
        }
    }
}
