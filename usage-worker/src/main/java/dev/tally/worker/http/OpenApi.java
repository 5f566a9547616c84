package dev.tally.worker.http;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;

/**
 * The API's OpenAPI 3.1 contract, {@code openapi.json} on the class path (kept in the repository
 * at usage-worker/src/main/resources/openapi.json and checked against real responses by
 * {@code OpenApiContractTest}).
 *
 * <p>Thread-safe: the bytes are loaded once by the class initializer and never handed out mutably.
 */
public final class OpenApi {
    private static final byte[] DOCUMENT = load();

    private OpenApi() {
    }

    /** A copy of the document's bytes. */
    public static byte[] document() {
        return DOCUMENT.clone();
    }

    private static byte[] load() {
        try (InputStream in = OpenApi.class.getResourceAsStream("/openapi.json")) {
            if (in == null) {
                throw new IllegalStateException("openapi.json is missing from the class path");
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
