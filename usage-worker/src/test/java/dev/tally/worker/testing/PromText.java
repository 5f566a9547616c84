package dev.tally.worker.testing;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A strict parser of the Prometheus text exposition format 0.0.4, for tests: every sample must
 * belong to a family declared with one {@code # HELP} and one {@code # TYPE} line before it, a
 * family's samples must be contiguous, names and label names must be valid, label values must be
 * correctly escaped, values must be numbers, no series may repeat, counters must end in
 * {@code _total}, a summary's or histogram's {@code _count}, {@code _sum} (and {@code _bucket})
 * samples belong to its family, and the text must end with a newline. Any violation throws with the line number.
 */
public final class PromText {
    private static final Pattern NAME = Pattern.compile("[a-zA-Z_:][a-zA-Z0-9_:]*");
    private static final Pattern LABEL_NAME = Pattern.compile("[a-zA-Z_][a-zA-Z0-9_]*");
    private static final Set<String> TYPES = Set.of("counter", "gauge", "histogram", "summary", "untyped");

    /** One sample. */
    public record Sample(String name, Map<String, String> labels, double value) {
        /** The series key: {@code name{a="x",b="y"}} with labels sorted. */
        public String key() {
            return PromText.key(name, labels);
        }
    }

    private final Map<String, String> types = new LinkedHashMap<>();
    private final List<Sample> samples = new ArrayList<>();

    private PromText() {
    }

    public static PromText parse(String text) {
        PromText p = new PromText();
        if (!text.isEmpty() && !text.endsWith("\n")) {
            throw new IllegalArgumentException("the exposition must end with a newline");
        }
        Set<String> helped = new HashSet<>();
        Set<String> closed = new HashSet<>();
        Set<String> series = new HashSet<>();
        String current = null;
        String[] lines = text.split("\n", -1);
        for (int i = 0; i < lines.length - 1; i++) {
            String line = lines[i];
            int n = i + 1;
            if (line.isEmpty()) {
                continue;
            }
            if (line.startsWith("# HELP ")) {
                String[] parts = line.substring(7).split(" ", 2);
                check(NAME.matcher(parts[0]).matches(), n, "bad metric name in HELP: " + parts[0]);
                check(helped.add(parts[0]), n, "second HELP for " + parts[0]);
                check(parts.length == 2, n, "HELP without text");
                checkEscapes(parts[1], n, false);
                continue;
            }
            if (line.startsWith("# TYPE ")) {
                String[] parts = line.substring(7).split(" ");
                check(parts.length == 2, n, "TYPE must be '# TYPE name type'");
                check(NAME.matcher(parts[0]).matches(), n, "bad metric name in TYPE: " + parts[0]);
                check(TYPES.contains(parts[1]), n, "unknown type " + parts[1]);
                check(!p.types.containsKey(parts[0]), n, "second TYPE for " + parts[0]);
                if (parts[1].equals("counter")) {
                    check(parts[0].endsWith("_total"), n, "counter " + parts[0] + " does not end in _total");
                }
                p.types.put(parts[0], parts[1]);
                if (current != null && !current.equals(parts[0])) {
                    closed.add(current);
                }
                current = parts[0];
                continue;
            }
            if (line.startsWith("#")) {
                continue; // a comment
            }
            Sample s = sample(line, n);
            String family = family(p.types, s.name());
            check(p.types.containsKey(family), n, "sample of " + s.name() + " before its TYPE line");
            check(family.equals(current), n, "sample of " + s.name() + " outside its family's block");
            check(!closed.contains(family), n, "family " + family + " continues after another family");
            check(series.add(s.key()), n, "series " + s.key() + " appears twice");
            p.samples.add(s);
        }
        return p;
    }

    /** The family a sample belongs to: its own name, or a summary's or histogram's for _count, _sum, _bucket. */
    private static String family(Map<String, String> types, String name) {
        for (String suffix : new String[] {"_count", "_sum", "_bucket"}) {
            if (name.endsWith(suffix)) {
                String base = name.substring(0, name.length() - suffix.length());
                String type = types.get(base);
                if ("histogram".equals(type) || "summary".equals(type) && !suffix.equals("_bucket")) {
                    return base;
                }
            }
        }
        return name;
    }

    private static Sample sample(String line, int n) {
        Matcher m = Pattern.compile("^([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{.*\\})? (\\S+)( -?\\d+)?$").matcher(line);
        check(m.matches(), n, "not a sample line: " + line);
        Map<String, String> labels = new TreeMap<>();
        if (m.group(2) != null) {
            String body = m.group(2).substring(1, m.group(2).length() - 1);
            int i = 0;
            while (i < body.length()) {
                int eq = body.indexOf('=', i);
                check(eq > i, n, "label without name in " + line);
                String name = body.substring(i, eq);
                check(LABEL_NAME.matcher(name).matches(), n, "bad label name " + name);
                check(eq + 1 < body.length() && body.charAt(eq + 1) == '"', n, "label value not quoted in " + line);
                StringBuilder v = new StringBuilder();
                int j = eq + 2;
                boolean closed = false;
                while (j < body.length()) {
                    char c = body.charAt(j);
                    if (c == '\\') {
                        check(j + 1 < body.length(), n, "dangling escape");
                        char e = body.charAt(j + 1);
                        check(e == '\\' || e == '"' || e == 'n', n, "bad escape \\" + e);
                        v.append(e == 'n' ? '\n' : e);
                        j += 2;
                        continue;
                    }
                    if (c == '"') {
                        closed = true;
                        break;
                    }
                    v.append(c);
                    j++;
                }
                check(closed, n, "unterminated label value in " + line);
                check(labels.put(name, v.toString()) == null, n, "label " + name + " twice");
                i = j + 1;
                if (i < body.length()) {
                    check(body.charAt(i) == ',', n, "labels must be separated by ','");
                    i++;
                }
            }
        }
        double value;
        String v = m.group(3);
        if (v.equals("+Inf")) {
            value = Double.POSITIVE_INFINITY;
        } else if (v.equals("-Inf")) {
            value = Double.NEGATIVE_INFINITY;
        } else if (v.equals("NaN")) {
            value = Double.NaN;
        } else {
            try {
                value = Double.parseDouble(v);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("line " + n + ": value '" + v + "' is not a number");
            }
        }
        return new Sample(m.group(1), labels, value);
    }

    private static void checkEscapes(String text, int n, boolean quotes) {
        for (int i = 0; i < text.length(); i++) {
            if (text.charAt(i) == '\\') {
                check(i + 1 < text.length(), n, "dangling escape");
                char e = text.charAt(i + 1);
                check(e == '\\' || e == 'n' || quotes && e == '"', n, "bad escape \\" + e);
                i++;
            }
        }
    }

    private static void check(boolean ok, int line, String what) {
        if (!ok) {
            throw new IllegalArgumentException("line " + line + ": " + what);
        }
    }

    static String key(String name, Map<String, String> labels) {
        if (labels.isEmpty()) {
            return name;
        }
        StringBuilder b = new StringBuilder(name).append('{');
        new TreeMap<>(labels).forEach((k, v) -> b.append(k).append("=\"").append(v).append("\","));
        b.setLength(b.length() - 1);
        return b.append('}').toString();
    }

    /** The declared type of a family, or null. */
    public String type(String family) {
        return types.get(family);
    }

    public List<Sample> samples() {
        return samples;
    }

    /** The value of one series, e.g. {@code value("tally_dead_letters", "reason", "invalid_json")}. */
    public double value(String name, String... labelPairs) {
        Map<String, String> labels = new HashMap<>();
        for (int i = 0; i < labelPairs.length; i += 2) {
            labels.put(labelPairs[i], labelPairs[i + 1]);
        }
        String k = key(name, labels);
        return samples.stream().filter(s -> s.key().equals(k)).findFirst()
                .orElseThrow(() -> new AssertionError("no series " + k)).value();
    }
}
