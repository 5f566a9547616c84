package dev.tally.store.internal;

import dev.tally.store.io.FileSync;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tally.store.EventCodec;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Instant;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.zip.CRC32C;

/**
 * The list of published sealed parts, and the highest segment sequence ever used. It is the
 * single source of truth for what the archive holds: a Parquet file the manifest does not name
 * is not part of the store. Stored as {@code manifest.json} with a CRC32C of its body, so any
 * process can read it and a damaged copy is detected, not trusted.
 *
 * <p>Immutable; thread-safe.
 *
 * @param lastSeq     the highest segment sequence whose seal was published (segments are sealed in
 *                    order, so every segment file at or below it is already published)
 * @param parts       published parts, ordered by sequence, kind and day
 * @param quarantined parts found damaged and moved to {@code quarantine/}; kept here so the loss is
 *                    never forgotten
 */
public record Manifest(long lastSeq, List<SealedPart> parts, List<Quarantined> quarantined) {

    /**
     * A part taken out of service because its file is damaged or missing.
     *
     * @param part   the part as it was published
     * @param reason what was wrong
     * @param at     when it was quarantined
     */
    public record Quarantined(SealedPart part, String reason, Instant at) implements dev.tally.store.read.QuarantinedPart {
    }
    public static final int FORMAT_VERSION = 1;
    /** Version of the detail and rollup column layout written by this code. */
    public static final int SCHEMA_VERSION = 1;

    private static final ObjectMapper JSON = new ObjectMapper();

    public Manifest {
        List<SealedPart> sorted = new ArrayList<>(parts);
        sorted.sort(Comparator.comparingLong(SealedPart::seq).thenComparing(SealedPart::kind)
                .thenComparing(SealedPart::day).thenComparing(SealedPart::path));
        parts = List.copyOf(sorted);
        quarantined = List.copyOf(quarantined);
    }

    public Manifest(long lastSeq, List<SealedPart> parts) {
        this(lastSeq, parts, List.of());
    }

    public static Manifest empty() {
        return new Manifest(0, List.of());
    }

    /** Moves a part from the published list to the quarantined list. */
    public Manifest withQuarantined(SealedPart part, String reason, Instant at) {
        List<Quarantined> q = new ArrayList<>(quarantined);
        q.add(new Quarantined(part, reason, at));
        return new Manifest(lastSeq, parts.stream().filter(p -> !p.path().equals(part.path())).toList(), q);
    }

    public Manifest withParts(long seq, Collection<SealedPart> added) {
        List<SealedPart> all = new ArrayList<>(parts);
        all.addAll(added);
        return new Manifest(Math.max(lastSeq, seq), all, quarantined);
    }

    public Manifest withoutParts(Collection<SealedPart> removed) {
        Set<String> gone = new HashSet<>();
        removed.forEach(p -> gone.add(p.path()));
        return new Manifest(lastSeq, parts.stream().filter(p -> !gone.contains(p.path())).toList(), quarantined);
    }

    /**
     * Swaps compaction's sources for the part that merges them: one manifest, so a reader sees
     * either the sources or the merged part, never both or neither.
     */
    public Manifest withCompacted(Collection<SealedPart> sources, SealedPart merged) {
        return withoutParts(sources).withParts(0, List.of(merged));
    }

    /**
     * Records, on every compacted rollup part that covers one of their days and segments, that
     * the detail of those days is gone with {@code removed} (detail parts leaving the manifest:
     * retention or quarantine). Sealed rollup parts need no record: their detail is matched per
     * segment and day (see {@link DetailCoverage}).
     */
    public Manifest withDetailLost(Collection<SealedPart> removed) {
        List<SealedPart> out = new ArrayList<>(parts.size());
        for (SealedPart r : parts) {
            if (r.kind() != PartKind.ROLLUP || !r.compacted()) {
                out.add(r);
                continue;
            }
            Set<java.time.LocalDate> lost = new java.util.TreeSet<>();
            for (SealedPart d : removed) {
                if (d.kind() != PartKind.DETAIL || d.seq() < r.minSeq() || d.minSeq() > r.seq()) {
                    continue;
                }
                for (var day = d.firstDay(); !day.isAfter(d.lastDay()); day = day.plusDays(1)) {
                    if (!day.isBefore(r.firstDay()) && !day.isAfter(r.lastDay())) {
                        lost.add(day);
                    }
                }
            }
            out.add(lost.isEmpty() || r.lostDetailDays().containsAll(lost) ? r : r.withLostDetailDays(lost));
        }
        return new Manifest(lastSeq, out, quarantined);
    }

    public Manifest withLastSeq(long seq) {
        return new Manifest(Math.max(lastSeq, seq), parts, quarantined);
    }

    public boolean hasSegment(long seq) {
        return parts.stream().anyMatch(p -> p.seq() == seq);
    }

    public Set<String> paths() {
        Set<String> s = new HashSet<>();
        parts.forEach(p -> s.add(p.path()));
        return s;
    }

    public List<SealedPart> parts(PartKind kind) {
        return parts.stream().filter(p -> p.kind() == kind).toList();
    }

    /** Reads the manifest; a missing file is an empty store, a damaged one an error naming the fix. */
    public static Manifest read(Path file) throws IOException {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            return empty();
        }
        try {
            ObjectNode root = (ObjectNode) JSON.readTree(bytes);
            String stored = root.path("checksum").asText("");
            root.remove("checksum");
            String expected = crcHex(JSON.writeValueAsBytes(root));
            if (!stored.equals(expected)) {
                throw new ManifestDamagedException(file, "checksum " + stored + " does not match its content ("
                        + expected + ")");
            }
            int format = root.path("formatVersion").asInt(-1);
            if (format != FORMAT_VERSION) {
                throw new ManifestDamagedException(file, "format version " + format + " is not " + FORMAT_VERSION);
            }
            List<SealedPart> parts = new ArrayList<>();
            for (JsonNode n : root.path("parts")) {
                parts.add(partOf(n));
            }
            List<Quarantined> quarantined = new ArrayList<>();
            for (JsonNode n : root.path("quarantined")) {
                quarantined.add(new Quarantined(partOf(n.get("part")), n.get("reason").asText(),
                        Instant.parse(n.get("at").asText())));
            }
            return new Manifest(root.path("lastSeq").asLong(), parts, quarantined);
        } catch (ManifestDamagedException e) {
            throw e;
        } catch (RuntimeException | IOException e) {
            throw new ManifestDamagedException(file, "it cannot be parsed: " + e.getMessage());
        }
    }

    private static SealedPart partOf(JsonNode n) {
        long seq = n.get("seq").asLong();
        SealedPart.Compaction compaction = null;
        if (n.path("compacted").asBoolean(false)) {
            List<java.time.LocalDate> lost = new ArrayList<>();
            for (JsonNode d : n.path("lostDetailDays")) {
                lost.add(java.time.LocalDate.parse(d.asText()));
            }
            // Written by every version that compacts; a missing field can only mean a single source.
            compaction = new SealedPart.Compaction(n.path("minSeq").asLong(seq), lost);
        }
        return new SealedPart(
                seq,
                PartKind.valueOf(n.get("kind").asText()),
                LocalDate.parse(n.get("day").asText()),
                n.get("path").asText(),
                Instant.parse(n.get("minTime").asText()),
                Instant.parse(n.get("maxTime").asText()),
                n.get("rows").asLong(),
                n.get("bytes").asLong(),
                Long.parseUnsignedLong(n.get("crc32c").asText(), 16),
                compaction);
    }

    private static void putPart(ObjectNode n, SealedPart p) {
        n.put("seq", p.seq());
        n.put("kind", p.kind().name());
        n.put("day", p.day().toString());
        n.put("path", p.path());
        n.put("minTime", EventCodec.formatTime(p.minTime()));
        n.put("maxTime", EventCodec.formatTime(p.maxTime()));
        n.put("rows", p.rows());
        n.put("bytes", p.bytes());
        n.put("crc32c", Long.toHexString(p.crc32c()));
        // Absent in manifests written before compaction existed: there minSeq is seq.
        n.put("minSeq", p.minSeq());
        if (p.compacted()) {
            n.put("compacted", true);
            ArrayNode lost = n.putArray("lostDetailDays");
            p.lostDetailDays().forEach(d -> lost.add(d.toString()));
        }
    }

    /** Replaces the manifest durably: temp file, force, atomic rename, directory fsync. */
    public void write(Path file) throws IOException {
        FileSync.writeAtomically(file, toBytes());
    }

    byte[] toBytes() throws IOException {
        ObjectNode root = JSON.createObjectNode();
        root.put("formatVersion", FORMAT_VERSION);
        root.put("schemaVersion", SCHEMA_VERSION);
        root.put("lastSeq", lastSeq);
        ArrayNode arr = root.putArray("parts");
        for (SealedPart p : parts) {
            putPart(arr.addObject(), p);
        }
        ArrayNode q = root.putArray("quarantined");
        for (Quarantined x : quarantined) {
            ObjectNode n = q.addObject();
            putPart(n.putObject("part"), x.part());
            n.put("reason", x.reason());
            n.put("at", EventCodec.formatTime(x.at()));
        }
        root.put("checksum", crcHex(JSON.writeValueAsBytes(root)));
        return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(root).getBytes(StandardCharsets.UTF_8);
    }

    private static String crcHex(byte[] body) {
        CRC32C c = new CRC32C();
        c.update(body);
        return Long.toHexString(c.getValue());
    }
}
