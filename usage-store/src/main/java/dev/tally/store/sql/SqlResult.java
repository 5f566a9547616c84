package dev.tally.store.sql;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * The rows of one sandboxed statement. Values are Java objects: {@code null}, {@link String},
 * {@link Long}/{@link Integer}/…, {@link BigDecimal} (exact DECIMAL), {@link Double},
 * {@link Boolean}, {@link java.time.Instant} (a UTC TIMESTAMP), {@link java.time.OffsetDateTime}
 * (TIMESTAMPTZ), {@link java.time.LocalDate}; anything else (lists, structs) as DuckDB's text.
 *
 * @param columns   column names, in order
 * @param types     DuckDB type names, in order
 * @param rows      at most the sandbox's {@code maxRows} rows
 * @param truncated whether the statement produced more rows than were returned
 * @param warnings  why the answer may be incomplete (a quarantined part in the sandbox's range);
 *                  empty when it is whole
 */
public record SqlResult(List<String> columns, List<String> types, List<List<Object>> rows, boolean truncated,
        List<String> warnings) {
    private static final JsonFactory JSON = new JsonFactory();

    public SqlResult {
        columns = List.copyOf(columns);
        types = List.copyOf(types);
        List<List<Object>> copy = new ArrayList<>(rows.size());
        for (List<Object> r : rows) {
            copy.add(Collections.unmodifiableList(new ArrayList<>(r)));
        }
        rows = Collections.unmodifiableList(copy);
        warnings = List.copyOf(warnings);
    }

    /** A whole result, without warnings. */
    public SqlResult(List<String> columns, List<String> types, List<List<Object>> rows, boolean truncated) {
        this(columns, types, rows, truncated, List.of());
    }

    /** Whether rows may be missing from the answer (see {@link #warnings()}). */
    public boolean partial() {
        return !warnings.isEmpty();
    }

    /** The result written in {@code format}. */
    public String render(OutputFormat format) {
        return switch (format) {
            case TABLE -> table();
            case CSV -> csv();
            case JSON -> json();
        };
    }

    static String text(Object v) {
        if (v == null) {
            return null;
        }
        if (v instanceof BigDecimal d) {
            return d.toPlainString();
        }
        return v.toString();
    }

    private static boolean numeric(Object v) {
        return v instanceof Number;
    }

    private String table() {
        int n = columns.size();
        int[] width = new int[n];
        for (int i = 0; i < n; i++) {
            width[i] = columns.get(i).length();
        }
        List<String[]> cells = new ArrayList<>();
        for (List<Object> r : rows) {
            String[] c = new String[n];
            for (int i = 0; i < n; i++) {
                String t = text(r.get(i));
                c[i] = t == null ? "NULL" : t.replace("\n", "\\n").replace("\r", "\\r");
                width[i] = Math.max(width[i], c[i].length());
            }
            cells.add(c);
        }
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < n; i++) {
            sb.append(i == 0 ? "" : " | ").append(pad(columns.get(i), width[i], false));
        }
        sb.append('\n');
        for (int i = 0; i < n; i++) {
            sb.append(i == 0 ? "" : "-+-").append("-".repeat(width[i]));
        }
        sb.append('\n');
        for (int r = 0; r < cells.size(); r++) {
            for (int i = 0; i < n; i++) {
                sb.append(i == 0 ? "" : " | ").append(pad(cells.get(r)[i], width[i], numeric(rows.get(r).get(i))));
            }
            sb.append('\n');
        }
        sb.append('(').append(rows.size()).append(rows.size() == 1 ? " row" : " rows");
        if (truncated) {
            sb.append("; truncated, the statement produced more");
        }
        sb.append(")\n");
        for (String w : warnings) {
            sb.append("warning: ").append(w).append('\n');
        }
        return sb.toString();
    }

    private static String pad(String s, int width, boolean right) {
        int fill = width - s.length();
        if (fill <= 0) {
            return s;
        }
        return right ? " ".repeat(fill) + s : s + " ".repeat(fill);
    }

    private String csv() {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < columns.size(); i++) {
            sb.append(i == 0 ? "" : ",").append(csvField(columns.get(i)));
        }
        sb.append('\n');
        for (List<Object> r : rows) {
            for (int i = 0; i < r.size(); i++) {
                String t = text(r.get(i));
                sb.append(i == 0 ? "" : ",").append(t == null ? "" : csvField(t));
            }
            sb.append('\n');
        }
        return sb.toString();
    }

    static String csvField(String s) {
        if (!s.isEmpty() && "=+-@\t\r".indexOf(s.charAt(0)) >= 0 && !isNumber(s)) {
            // A spreadsheet would run it as a formula: a leading quote makes it text (OWASP, CSV injection).
            s = "'" + s;
        }
        boolean quote = s.isEmpty() || s.indexOf(',') >= 0 || s.indexOf('"') >= 0 || s.indexOf('\n') >= 0
                || s.indexOf('\r') >= 0 || s.charAt(0) == ' ' || s.charAt(s.length() - 1) == ' ';
        return quote ? '"' + s.replace("\"", "\"\"") + '"' : s;
    }

    private static boolean isNumber(String s) {
        return s.matches("[-+]?(\\d+(\\.\\d*)?|\\.\\d+)([eE][-+]?\\d+)?");
    }

    private String json() {
        StringWriter out = new StringWriter();
        try (JsonGenerator g = JSON.createGenerator(out)) {
            g.writeStartObject();
            g.writeArrayFieldStart("columns");
            for (int i = 0; i < columns.size(); i++) {
                g.writeStartObject();
                g.writeStringField("name", columns.get(i));
                g.writeStringField("type", types.get(i));
                g.writeEndObject();
            }
            g.writeEndArray();
            g.writeArrayFieldStart("rows");
            for (List<Object> r : rows) {
                g.writeStartArray();
                for (Object v : r) {
                    if (v == null) {
                        g.writeNull();
                    } else if (v instanceof BigDecimal d) {
                        g.writeNumber(d.toPlainString());
                    } else if (v instanceof Long || v instanceof Integer || v instanceof Short || v instanceof Byte) {
                        g.writeNumber(((Number) v).longValue());
                    } else if (v instanceof BigInteger b) {
                        g.writeNumber(b);
                    } else if (v instanceof Double d && Double.isFinite(d)) {
                        g.writeNumber(d);
                    } else if (v instanceof Float f && Float.isFinite(f)) {
                        g.writeNumber(f);
                    } else if (v instanceof Boolean b) {
                        g.writeBoolean(b);
                    } else {
                        g.writeString(text(v));
                    }
                }
                g.writeEndArray();
            }
            g.writeEndArray();
            g.writeNumberField("rowCount", rows.size());
            g.writeBooleanField("truncated", truncated);
            if (!warnings.isEmpty()) {
                g.writeBooleanField("partial", true);
                g.writeArrayFieldStart("warnings");
                for (String w : warnings) {
                    g.writeString(w);
                }
                g.writeEndArray();
            }
            g.writeEndObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toString();
    }
}
