package dev.tally.worker.config;

import dev.tally.store.EventRules;
import java.io.IOException;
import java.io.Reader;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.TreeMap;

/**
 * Which worker owns which tenant: the shard map of a group of workers that each keep their own
 * data directory and commit to one shared warehouse. Every worker of the group reads the same map
 * file and differs only in its own id ({@code shard.id}).
 *
 * <p>The file is a properties file:
 *
 * <pre>
 * worker.eu-1 = http://10.0.0.11:8080
 * worker.eu-2 = http://10.0.0.12:8080
 * tenant.acme = eu-1
 * tenant.globex = eu-2
 * </pre>
 *
 * A tenant is owned by exactly one worker: the same key twice is refused (a properties file would
 * silently keep the last), because two owners would each deduplicate only their own events and a
 * retried event could be counted twice. A tenant not in the map is owned by no one and refused
 * everywhere, for the same reason.
 *
 * <p>Thread-safe: immutable.
 */
public final class ShardMap {
    /** One worker of the group. */
    public record Member(String id, String url) {
    }

    private final Path file;
    private final String selfId;
    private final Map<String, Member> workers;
    private final Map<String, String> tenants;

    private ShardMap(Path file, String selfId, Map<String, Member> workers, Map<String, String> tenants) {
        this.file = file;
        this.selfId = selfId;
        this.workers = Collections.unmodifiableMap(workers);
        this.tenants = Collections.unmodifiableMap(tenants);
    }

    /**
     * Reads and validates the map file: every worker has an http(s) base URL, every tenant is a
     * valid tenant name assigned once to a listed worker, and {@code selfId} is one of the workers.
     *
     * @param knob the setting that named the file, for messages
     * @throws ConfigException naming the file, the key and the bad value
     */
    public static ShardMap load(Path file, String selfId, String knob) {
        String where = knob + " = " + file;
        Properties p = new Properties() {
            private static final long serialVersionUID = 1L;

            @Override
            public synchronized Object put(Object key, Object value) {
                if (containsKey(key)) {
                    throw new ConfigException(where + ": '" + key + "' is set twice ('" + get(key) + "' and '"
                            + value + "'); a tenant has exactly one owner and a worker one address");
                }
                return super.put(key, value);
            }
        };
        try (Reader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            p.load(r);
        } catch (NoSuchFileException e) {
            throw new ConfigException(where + ": the file does not exist");
        } catch (IOException | IllegalArgumentException e) {
            throw new ConfigException(where + ": cannot be read: " + e.getMessage());
        }
        Map<String, Member> workers = new TreeMap<>();
        Map<String, String> tenants = new TreeMap<>();
        for (String key : new TreeMap<>(p).keySet().stream().map(Object::toString).toList()) {
            String value = p.getProperty(key).trim();
            if (key.startsWith("worker.")) {
                String id = key.substring("worker.".length());
                checkId(where, key, id);
                workers.put(id, new Member(id, baseUrl(where, key, value)));
            } else if (key.startsWith("tenant.")) {
                String tenant = key.substring("tenant.".length());
                if (!EventRules.isTenant(tenant)) {
                    throw new ConfigException(where + ": '" + key + "': '" + tenant + "' is not a valid tenant name");
                }
                tenants.put(tenant, value);
            } else {
                throw new ConfigException(where + ": unknown key '" + key + "' (use worker.<id> = <base URL> and "
                        + "tenant.<tenant> = <worker id>)");
            }
        }
        if (workers.isEmpty()) {
            throw new ConfigException(where + ": lists no worker (worker.<id> = <base URL>)");
        }
        for (Map.Entry<String, String> t : tenants.entrySet()) {
            if (!workers.containsKey(t.getValue())) {
                throw new ConfigException(where + ": 'tenant." + t.getKey() + " = " + t.getValue() + "' names a "
                        + "worker the file does not list (workers: " + String.join(", ", workers.keySet()) + ")");
            }
        }
        if (!workers.containsKey(selfId)) {
            throw new ConfigException("shard.id = '" + selfId + "' is not a worker of " + where + " (workers: "
                    + String.join(", ", workers.keySet()) + ")");
        }
        return new ShardMap(file, selfId, new LinkedHashMap<>(workers), new LinkedHashMap<>(tenants));
    }

    private static void checkId(String where, String key, String id) {
        if (!id.matches("[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")) {
            throw new ConfigException(where + ": '" + key + "': worker id '" + id + "' must be 1 to 64 letters, "
                    + "digits, '.', '_' or '-', starting with a letter or digit");
        }
    }

    /** The base URL without a trailing slash; http or https with a host. */
    private static String baseUrl(String where, String key, String value) {
        URI u;
        try {
            u = new URI(value);
        } catch (URISyntaxException e) {
            throw new ConfigException(where + ": '" + key + " = " + value + "' is not a URL: " + e.getMessage());
        }
        if (u.getScheme() == null || !(u.getScheme().equals("http") || u.getScheme().equals("https"))
                || u.getHost() == null || u.getQuery() != null || u.getFragment() != null) {
            throw new ConfigException(where + ": '" + key + " = " + value + "' must be an http:// or https:// base "
                    + "URL with a host, e.g. http://10.0.0.11:8080");
        }
        String s = u.toString();
        while (s.endsWith("/")) {
            s = s.substring(0, s.length() - 1);
        }
        return s;
    }

    /** The map file. */
    public Path file() {
        return file;
    }

    /** This worker. */
    public Member self() {
        return workers.get(selfId);
    }

    /** The workers of the group, by id. */
    public Map<String, Member> workers() {
        return workers;
    }

    /** Tenant to owning worker id. */
    public Map<String, String> tenants() {
        return tenants;
    }

    /** The worker that owns {@code tenant}, or empty when the map does not list it. */
    public Optional<Member> owner(String tenant) {
        String id = tenant == null ? null : tenants.get(tenant);
        return id == null ? Optional.empty() : Optional.of(workers.get(id));
    }

    /** Whether this worker owns {@code tenant}. */
    public boolean ownsHere(String tenant) {
        return selfId.equals(tenant == null ? null : tenants.get(tenant));
    }

    /**
     * Why this worker refuses {@code tenant}, naming its owner, or empty when it owns it. The
     * text goes into HTTP answers, dead letters and command errors alike.
     */
    public Optional<String> refusal(String tenant) {
        if (ownsHere(tenant)) {
            return Optional.empty();
        }
        Optional<Member> owner = owner(tenant);
        if (owner.isPresent()) {
            return Optional.of("tenant '" + tenant + "' is owned by worker '" + owner.get().id() + "' at "
                    + owner.get().url() + ", not by this worker '" + selfId + "' (shard map " + file.getFileName()
                    + "); send its events and queries there");
        }
        return Optional.of("tenant '" + tenant + "' is not in the shard map (" + file.getFileName() + "), so no "
                + "worker owns it; add 'tenant." + tenant + " = <worker id>' to the map on every worker");
    }
}
