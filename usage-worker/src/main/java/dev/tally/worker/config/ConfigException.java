package dev.tally.worker.config;

/** A configuration value that cannot be used; the message names the key, the value and why. */
public final class ConfigException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public ConfigException(String message) {
        super(message);
    }
}
