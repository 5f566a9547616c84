package dev.tally.store.ingest;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tally.store.ImportPosition;
import dev.tally.store.StoreException;
import dev.tally.store.io.FileSync;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Collection;
import java.util.Map;
import java.util.TreeMap;

/**
 * The durable list of quarantined spool files, and of releases, in {@code import/quarantine.json}
 * under the data directory, replaced atomically on every change:
 *
 * <pre>{
 *   "version": 1,
 *   "quarantined": [{"source": "spool:0/a.jsonl", "reason": "prefix_changed", "detail": "…",
 *                    "committed": {"offset": 120, "fingerprint": "…", "identity": "unix:2049:77"},
 *                    "observed_size": 120, "observed_identity": "unix:2049:77",
 *                    "quarantined_at": "2026-11-20T10:00:00Z"}],
 *   "released":    [{"source": "spool:0/b.jsonl",
 *                    "superseded": {"offset": 80, "fingerprint": "…", "identity": "unix:2049:78"},
 *                    "released_at": "2026-11-20T11:00:00Z"}]
 * }</pre>
 *
 * <p>A release records the committed position it supersedes: while that position is still the
 * committed one, the file is imported again from the start (the store drops the events it
 * already holds as duplicates by tenant and id). Once an import commits a new position the
 * release is obsolete and is dropped.
 *
 * <p>Not thread-safe on its own: {@link SpoolScanner} guards it with its scanner lock.
 */
final class QuarantineList {
    static final String IMPORT_DIR = "import";
    static final String FILE_NAME = "quarantine.json";
    static final int VERSION = 1;

    private static final ObjectMapper MAPPER = new ObjectMapper();

    /** A release: the committed position it supersedes. Immutable and thread-safe. */
    record Release(String source, ImportPosition superseded, Instant releasedAt) {
    }

    private final Path file;
    private final Map<String, QuarantineEntry> quarantined = new TreeMap<>();
    private final Map<String, Release> released = new TreeMap<>();

    private QuarantineList(Path file) {
        this.file = file;
    }

    /**
     * Loads the list under {@code dataDir}; a missing file is an empty list.
     *
     * @throws StoreException when the file cannot be read or parsed: importing without knowing
     *                        which files are quarantined could import a rewritten file
     */
    static QuarantineList load(Path dataDir) {
        QuarantineList q = new QuarantineList(dataDir.resolve(IMPORT_DIR).resolve(FILE_NAME));
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(q.file);
        } catch (NoSuchFileException e) {
            return q;
        } catch (IOException e) {
            throw new StoreException("cannot read " + q.file + ": " + e.getMessage(), e);
        }
        try {
            JsonNode root = MAPPER.readTree(bytes);
            if (root == null || !root.isObject() || root.path("version").asInt(-1) != VERSION) {
                throw new IllegalArgumentException("not a version " + VERSION + " quarantine list");
            }
            for (JsonNode n : root.path("quarantined")) {
                String source = text(n, "source");
                q.quarantined.put(source, new QuarantineEntry(source, ChangeReason.ofCode(text(n, "reason")),
                        n.path("detail").asText(""), position(source, n.path("committed")),
                        n.path("observed_size").asLong(-1), n.path("observed_identity").asText(""),
                        Instant.parse(text(n, "quarantined_at"))));
            }
            for (JsonNode n : root.path("released")) {
                String source = text(n, "source");
                q.released.put(source, new Release(source, position(source, n.path("superseded")),
                        Instant.parse(text(n, "released_at"))));
            }
        } catch (IOException | RuntimeException e) {
            throw new StoreException(q.file + " is damaged (" + e.getMessage() + "); no spool file is imported "
                    + "until it is repaired, because it names the files that must not be", e);
        }
        return q;
    }

    private static String text(JsonNode n, String field) {
        JsonNode v = n.get(field);
        if (v == null || !v.isTextual()) {
            throw new IllegalArgumentException("field '" + field + "' is missing or not a string");
        }
        return v.asText();
    }

    private static ImportPosition position(String source, JsonNode n) {
        if (!n.isObject() || !n.path("offset").canConvertToLong()) {
            throw new IllegalArgumentException("position of " + source + " is missing its offset");
        }
        return new ImportPosition(source, n.path("offset").asLong(), n.path("fingerprint").asText(""),
                n.path("identity").asText(""));
    }

    Path file() {
        return file;
    }

    boolean isQuarantined(String source) {
        return quarantined.containsKey(source);
    }

    QuarantineEntry entry(String source) {
        return quarantined.get(source);
    }

    Collection<QuarantineEntry> entries() {
        return quarantined.values();
    }

    Release release(String source) {
        return released.get(source);
    }

    Collection<Release> releases() {
        return released.values();
    }

    void putQuarantined(QuarantineEntry e) {
        quarantined.put(e.source(), e);
    }

    QuarantineEntry removeQuarantined(String source) {
        return quarantined.remove(source);
    }

    void putRelease(Release r) {
        released.put(r.source(), r);
    }

    Release removeRelease(String source) {
        return released.remove(source);
    }

    /** Writes the list atomically (temp file, force, rename, fsync of the directory). */
    void save() throws IOException {
        Path dir = file.getParent();
        if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
            Files.createDirectories(dir);
            FileSync.fsyncDirectory(dir.getParent());
        }
        FileSync.writeAtomically(file, toJson());
    }

    private byte[] toJson() throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (JsonGenerator g = MAPPER.getFactory().createGenerator(out)) {
            g.useDefaultPrettyPrinter();
            g.writeStartObject();
            g.writeNumberField("version", VERSION);
            g.writeArrayFieldStart("quarantined");
            for (QuarantineEntry e : quarantined.values()) {
                g.writeStartObject();
                g.writeStringField("source", e.source());
                g.writeStringField("reason", e.reason().code());
                g.writeStringField("detail", e.detail());
                writePosition(g, "committed", e.committed());
                g.writeNumberField("observed_size", e.observedSize());
                g.writeStringField("observed_identity", e.observedIdentity());
                g.writeStringField("quarantined_at", e.quarantinedAt().toString());
                g.writeEndObject();
            }
            g.writeEndArray();
            g.writeArrayFieldStart("released");
            for (Release r : released.values()) {
                g.writeStartObject();
                g.writeStringField("source", r.source());
                writePosition(g, "superseded", r.superseded());
                g.writeStringField("released_at", r.releasedAt().toString());
                g.writeEndObject();
            }
            g.writeEndArray();
            g.writeEndObject();
        }
        out.write('\n');
        return out.toByteArray();
    }

    private static void writePosition(JsonGenerator g, String field, ImportPosition p) throws IOException {
        g.writeObjectFieldStart(field);
        g.writeNumberField("offset", p.offset());
        g.writeStringField("fingerprint", p.fingerprint());
        g.writeStringField("identity", p.identity());
        g.writeEndObject();
    }
}
