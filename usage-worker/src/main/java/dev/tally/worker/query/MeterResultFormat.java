package dev.tally.worker.query;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.tally.store.meter.MeterResult;
import dev.tally.store.meter.MeterRow;
import java.io.UncheckedIOException;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes a meter result as an aligned table, CSV or JSON. Values are exact decimals in every form
 * (JSON numbers written plainly, never in exponent notation).
 *
 * <p>Thread-safe: stateless.
 */
public final class MeterResultFormat {
    static final ObjectMapper JSON = JsonMapper.builder().enable(JsonGenerator.Feature.WRITE_BIGDECIMAL_AS_PLAIN)
            .build();

    private MeterResultFormat() {
    }

    public static String render(MeterResult r, QueryParams.Format format) {
        return switch (format) {
            case JSON -> json(r);
            case CSV -> csv(r);
            case TABLE -> table(r);
        };
    }

    /** The result as a JSON-ready map. */
    public static Map<String, Object> toMap(MeterResult r) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("meter", r.meter().name());
        m.put("aggregation", r.meter().aggregation().name());
        m.put("tenant", r.query().tenant());
        m.put("from", r.query().from().toString());
        m.put("to", r.query().to().toString());
        m.put("window", r.query().window().name().toLowerCase(java.util.Locale.ROOT));
        m.put("tz", r.query().zone().getId());
        m.put("source", r.source().name().toLowerCase(java.util.Locale.ROOT));
        m.put("plan", r.plan());
        List<Map<String, Object>> rows = new ArrayList<>();
        for (MeterRow row : r.rows()) {
            Map<String, Object> x = new LinkedHashMap<>();
            x.put("window_start", row.windowStart().toString());
            x.put("window_end", row.windowEnd().toString());
            x.put("subject", row.subject());
            x.put("groups", row.groups());
            x.put("value", exact(row.value()));
            x.put("events", row.events());
            rows.add(x);
        }
        m.put("rows", rows);
        if (r.partial()) {
            // As in SQL answers: present only when rows may be missing, so a whole answer is unchanged.
            m.put("partial", true);
            m.put("warnings", r.warnings());
        }
        return m;
    }

    static String json(MeterResult r) {
        try {
            return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(toMap(r)) + "\n";
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static List<String> header(MeterResult r) {
        List<String> h = new ArrayList<>(List.of("window_start", "window_end"));
        if (r.query().perSubject()) {
            h.add("subject");
        }
        h.addAll(r.query().groupBy());
        h.add(r.meter().name());
        h.add("events");
        return h;
    }

    private static List<List<String>> cells(MeterResult r) {
        List<List<String>> out = new ArrayList<>();
        for (MeterRow row : r.rows()) {
            List<String> c = new ArrayList<>();
            c.add(row.windowStart().toString());
            c.add(row.windowEnd().toString());
            if (r.query().perSubject()) {
                c.add(row.subject());
            }
            for (String g : r.query().groupBy()) {
                c.add(row.groups().get(g));
            }
            c.add(plain(row.value()));
            c.add(Long.toString(row.events()));
            out.add(c);
        }
        return out;
    }

    static String plain(BigDecimal v) {
        return v == null ? null : exact(v).toPlainString();
    }

    /** The same number without trailing fraction zeros (1500.000000000 is 1500), never in exponent form. */
    static BigDecimal exact(BigDecimal v) {
        if (v == null) {
            return null;
        }
        BigDecimal s = v.stripTrailingZeros();
        return s.scale() < 0 ? s.setScale(0) : s;
    }

    static String csv(MeterResult r) {
        StringBuilder b = new StringBuilder();
        b.append(String.join(",", header(r))).append('\n');
        for (List<String> row : cells(r)) {
            for (int i = 0; i < row.size(); i++) {
                String v = row.get(i);
                b.append(i == 0 ? "" : ",").append(v == null ? "" : csvField(v));
            }
            b.append('\n');
        }
        return b.toString();
    }

    static String csvField(String s) {
        boolean quote = s.isEmpty() || s.indexOf(',') >= 0 || s.indexOf('"') >= 0 || s.indexOf('\n') >= 0
                || s.indexOf('\r') >= 0;
        return quote ? '"' + s.replace("\"", "\"\"") + '"' : s;
    }

    static String table(MeterResult r) {
        List<String> h = header(r);
        List<List<String>> rows = cells(r);
        int[] w = new int[h.size()];
        for (int i = 0; i < h.size(); i++) {
            w[i] = h.get(i).length();
        }
        for (List<String> row : rows) {
            for (int i = 0; i < row.size(); i++) {
                w[i] = Math.max(w[i], row.get(i) == null ? 4 : row.get(i).length());
            }
        }
        int valueCol = h.size() - 2;
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < h.size(); i++) {
            b.append(i == 0 ? "" : "  ").append(pad(h.get(i), w[i], i >= valueCol));
        }
        b.append('\n');
        for (List<String> row : rows) {
            for (int i = 0; i < row.size(); i++) {
                String v = row.get(i) == null ? "null" : row.get(i);
                b.append(i == 0 ? "" : "  ").append(pad(v, w[i], i >= valueCol));
            }
            b.append('\n');
        }
        b.append('(').append(rows.size()).append(rows.size() == 1 ? " row" : " rows").append("; ")
                .append(r.meter().aggregation()).append(" of ").append(r.meter().name()).append(" for tenant ")
                .append(r.query().tenant()).append(", ").append(r.query().from()).append(" to ").append(r.query().to())
                .append(", from ").append(r.source() == MeterResult.Source.ROLLUP ? "hourly rollups" : "detail")
                .append(")\n");
        for (String warning : r.warnings()) {
            b.append("warning: ").append(warning).append('\n');
        }
        return b.toString();
    }

    private static String pad(String s, int width, boolean right) {
        int fill = width - s.length();
        if (fill <= 0) {
            return s;
        }
        return right ? " ".repeat(fill) + s : s + " ".repeat(fill);
    }
}
