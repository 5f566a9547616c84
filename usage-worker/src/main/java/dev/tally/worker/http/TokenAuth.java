package dev.tally.worker.http;

import dev.tally.store.EventRules;
import dev.tally.worker.config.ConfigException;
import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;

/**
 * Bearer tokens mapped to tenants, read from a properties file ({@code token = tenant}, one per
 * line). A token may only write and read its own tenant's events. Tokens are kept as SHA-256
 * digests and looked up by digest, so the comparison does not depend on how much of a guessed
 * token matches.
 *
 * <p>Thread-safe: immutable after construction.
 */
public final class TokenAuth {
    /** Shortest accepted token; shorter ones are too easy to guess. */
    public static final int MIN_TOKEN_LENGTH = 16;

    private final Map<String, String> tenantByDigest;

    private TokenAuth(Map<String, String> tenantByDigest) {
        this.tenantByDigest = Map.copyOf(tenantByDigest);
    }

    /**
     * Loads the tokens file.
     *
     * @throws ConfigException naming the file and the problem (missing file, short token, bad tenant)
     */
    public static TokenAuth load(Path file) {
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            p.load(r);
        } catch (IOException | IllegalArgumentException e) {
            throw new ConfigException("http.tokens-file = " + file + " cannot be read: " + e.getMessage());
        }
        Map<String, String> map = new HashMap<>();
        for (String token : p.stringPropertyNames()) {
            String tenant = p.getProperty(token).trim();
            if (token.length() < MIN_TOKEN_LENGTH) {
                throw new ConfigException("http.tokens-file = " + file + ": a token for tenant '" + tenant + "' is "
                        + token.length() + " characters long; tokens must have at least " + MIN_TOKEN_LENGTH
                        + " (e.g. from: openssl rand -hex 24)");
            }
            if (!EventRules.isTenant(tenant)) {
                throw new ConfigException("http.tokens-file = " + file + ": tenant '" + tenant + "' is not a valid "
                        + "tenant name (letters, digits, '.', '_', '-'; at most 64)");
            }
            map.put(digest(token), tenant);
        }
        if (map.isEmpty()) {
            throw new ConfigException("http.tokens-file = " + file + " holds no tokens; add lines 'token = tenant', "
                    + "or leave http.tokens-file empty to disable auth");
        }
        return new TokenAuth(map);
    }

    /** For tests: tokens given directly. */
    public static TokenAuth of(Map<String, String> tenantByToken) {
        Map<String, String> map = new HashMap<>();
        tenantByToken.forEach((t, tenant) -> map.put(digest(t), tenant));
        return new TokenAuth(map);
    }

    /** The tenant of {@code token}, if it is known. */
    public Optional<String> tenant(String token) {
        return Optional.ofNullable(tenantByDigest.get(digest(token)));
    }

    public int size() {
        return tenantByDigest.size();
    }

    private static String digest(String token) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
                    .digest(token.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
