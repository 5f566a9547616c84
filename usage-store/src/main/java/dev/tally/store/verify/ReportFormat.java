package dev.tally.store.verify;

import dev.tally.store.read.SnapshotInfo;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.math.BigDecimal;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;

/**
 * Renders a {@link VerifyReport} as a human-readable table or as JSON (numbers exact: sums are
 * JSON numbers written in plain decimal notation, never through a {@code double}).
 *
 * <p>Thread-safe: stateless.
 */
public final class ReportFormat {
    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(SerializationFeature.INDENT_OUTPUT)
            .enable(JsonGenerator.Feature.WRITE_BIGDECIMAL_AS_PLAIN);

    private ReportFormat() {
    }

    /** The report as one JSON document. */
    public static String json(VerifyReport r) {
        ObjectNode root = JSON.createObjectNode();
        root.put("startedAt", r.startedAt().toString());
        root.put("tookMillis", r.took().toMillis());
        root.put("drift", r.drift());
        SnapshotInfo si = r.snapshot();
        ObjectNode snap = root.putObject("snapshot");
        snap.put("manifestLastSeq", si.manifestLastSeq());
        ArrayNode segs = snap.putArray("segments");
        si.segments().forEach(segs::add);
        snap.put("detailParts", si.detailParts());
        snap.put("rollupParts", si.rollupParts());
        snap.put("pinning", si.pinning());
        snap.put("attempts", si.attempts());
        snap.put("complete", si.complete());
        snap.put("positionsKnown", si.positionsKnown());
        ArrayNode problems = snap.putArray("problems");
        si.problems().forEach(problems::add);
        ArrayNode quarantined = snap.putArray("quarantinedParts");
        si.quarantined().forEach(quarantined::add);
        ObjectNode summary = root.putObject("summary");
        for (VerifyClass c : VerifyClass.values()) {
            summary.put(c.code(), r.count(c));
        }
        root.put("storeOnlyEvents", r.storeOnlyEvents());
        root.put("storeDuplicateKeys", r.storeDuplicateKeys());
        root.put("positionsWithoutFile", r.positionsWithoutFile());
        ArrayNode files = root.putArray("files");
        for (FileReport f : r.files()) {
            ObjectNode n = files.addObject();
            n.put("name", f.name());
            n.put("path", String.valueOf(f.path()));
            n.put("kind", f.kind());
            n.put("status", f.status().code());
            n.put("check", f.check());
            n.put("boundary", f.boundary());
            n.put("sizeAtStart", f.sizeAtStart());
            n.put("bytesRead", f.bytesRead());
            n.put("tailBytes", f.tailBytes());
            n.put("written", f.written());
            n.put("detail", f.detail());
            ObjectNode counts = n.putObject("counts");
            for (VerifyClass c : VerifyClass.values()) {
                if (f.count(c) > 0) {
                    counts.put(c.code(), f.count(c));
                }
            }
        }
        ArrayNode totals = root.putArray("totals");
        for (TypeTotals t : r.totals()) {
            ObjectNode n = totals.addObject();
            n.put("tenant", t.tenant());
            n.put("type", t.type());
            n.put("matches", t.matches());
            tally(n.putObject("expected"), t.expected());
            tally(n.putObject("stored"), t.stored());
            tally(n.putObject("storeOnly"), t.storeOnly());
        }
        ArrayNode findings = root.putArray("findings");
        for (EventFinding f : r.findings()) {
            ObjectNode n = findings.addObject();
            n.put("class", f.verdict().code());
            n.put("file", f.file());
            n.put("offset", f.offset());
            n.put("tenant", f.tenant());
            n.put("id", f.id());
            n.put("detail", f.detail());
            if (!f.differences().isEmpty()) {
                ArrayNode d = n.putArray("differences");
                for (EventFinding.FieldDifference x : f.differences()) {
                    ObjectNode o = d.addObject();
                    o.put("field", x.field());
                    o.put("source", x.source());
                    o.put("stored", x.stored());
                }
            }
        }
        root.put("findingsOmitted", r.findingsOmitted());
        try {
            return JSON.writeValueAsString(root);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("a report tree always serializes", e);
        }
    }

    private static void tally(ObjectNode n, Tally t) {
        n.put("events", t.events());
        ObjectNode sums = n.putObject("sums");
        for (Map.Entry<String, BigDecimal> e : t.sums().entrySet()) {
            sums.put(e.getKey(), e.getValue());
        }
    }

    /** The report as aligned text for a terminal. */
    public static String table(VerifyReport r) {
        StringBuilder sb = new StringBuilder();
        SnapshotInfo si = r.snapshot();
        line(sb, "verify: %s (%d ms)", r.drift() ? "DRIFT FOUND" : "no drift", r.took().toMillis());
        line(sb, "snapshot: manifest last sealed segment %d, segments copied %s, %d detail and %d rollup parts (%s), "
                + "attempt %d%s", si.manifestLastSeq(), si.segments(), si.detailParts(), si.rollupParts(), si.pinning(),
                si.attempts(), si.complete() && si.positionsKnown() ? "" : ", INCOMPLETE");
        for (String p : si.problems()) {
            line(sb, "  problem: %s", p);
        }
        for (String q : si.quarantined()) {
            line(sb, "  quarantined part (damaged; its events are missing from the store): %s", q);
        }
        sb.append('\n');
        line(sb, "%-15s %15s", "CLASS", "LINES");
        for (VerifyClass c : VerifyClass.values()) {
            line(sb, "%-15s %,15d%s", c.code(), r.count(c), c.drift() && r.count(c) > 0 ? "  <- drift" : "");
        }
        line(sb, "%-15s %,15d", "store-only", r.storeOnlyEvents());
        if (r.storeDuplicateKeys() > 0) {
            line(sb, "%-15s %,15d  <- drift", "stored twice", r.storeDuplicateKeys());
        }
        if (r.positionsWithoutFile() > 0) {
            line(sb, "(%,d imported sources are no longer on disk; their events count as store-only)",
                    r.positionsWithoutFile());
        }
        sb.append('\n');
        line(sb, "%-14s %-17s %13s %13s  %s", "FILE STATUS", "CHECK", "LINES", "BOUNDARY", "FILE");
        for (FileReport f : r.files()) {
            long lines = f.counts().values().stream().mapToLong(Long::longValue).sum();
            line(sb, "%-14s %-17s %,13d %13s  %s", f.status().code(), f.check(), lines,
                    f.boundary() < 0 ? "-" : String.format(Locale.ROOT, "%,d", f.boundary()), f.name());
            if (!f.detail().isEmpty()) {
                line(sb, "%47s%s", "", f.detail());
            }
        }
        sb.append('\n');
        line(sb, "TOTALS (expected = distinct source events that must be stored; stored = the store's values for them)");
        for (TypeTotals t : r.totals()) {
            line(sb, "%s %s: %s", t.tenant(), t.type(), t.matches() ? "match" : "DIFFER");
            line(sb, "  %-24s %24s %24s %24s", "", "expected", "stored", "store-only");
            line(sb, "  %-24s %,24d %,24d %,24d", "events", t.expected().events(), t.stored().events(),
                    t.storeOnly().events());
            TreeSet<String> props = new TreeSet<>(t.expected().sums().keySet());
            props.addAll(t.stored().sums().keySet());
            props.addAll(t.storeOnly().sums().keySet());
            for (String p : props) {
                line(sb, "  %-24s %24s %24s %24s", abbreviate(p, 24), plain(t.expected(), p), plain(t.stored(), p),
                        plain(t.storeOnly(), p));
            }
        }
        if (!r.findings().isEmpty()) {
            sb.append('\n');
            line(sb, "FINDINGS%s", r.findingsOmitted() > 0 ? " (" + r.findingsOmitted() + " more not listed)" : "");
            for (EventFinding f : r.findings()) {
                line(sb, "%-14s %s@%d %s/%s: %s", f.verdict().code(), f.file(), f.offset(),
                        f.tenant() == null ? "-" : f.tenant(), f.id() == null ? "-" : f.id(), f.detail());
                for (EventFinding.FieldDifference d : f.differences()) {
                    line(sb, "%15s%s: source %s, stored %s", "", d.field(), d.source(), d.stored());
                }
            }
        }
        return sb.toString();
    }

    private static String plain(Tally t, String property) {
        BigDecimal v = t.sums().get(property);
        return v == null ? "-" : v.toPlainString();
    }

    private static String abbreviate(String s, int max) {
        return s.length() <= max ? s : s.substring(0, max - 1) + "…";
    }

    private static void line(StringBuilder sb, String format, Object... args) {
        sb.append(String.format(Locale.ROOT, format, args)).append('\n');
    }
}
