package dev.tally.store.sql;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tally.store.EngineErrors;
import java.io.IOException;
import java.math.BigDecimal;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The checks a sandbox statement passes before anything of it is prepared: exactly one SELECT,
 * by DuckDB's own parser ({@code json_serialize_sql}), and no value-building call whose constant
 * arguments alone ask for more than the result byte limit.
 *
 * <p>Thread-safe: stateless (the connection passed in is the caller's to guard).
 */
final class StatementGuard {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Functions whose one call builds a value as large as a numeric argument asks (bytes per unit). */
    private static final Map<String, Integer> VALUE_BUILDERS = Map.ofEntries(Map.entry("repeat", 1),
            Map.entry("lpad", 1), Map.entry("rpad", 1), Map.entry("range", 8), Map.entry("generate_series", 8),
            Map.entry("list_resize", 8), Map.entry("array_resize", 8), Map.entry("bitstring", 1),
            Map.entry("printf", 1), Map.entry("format", 1), Map.entry("repeat_row", 0));
    private static final Pattern FORMAT_WIDTH = Pattern.compile("%[-+ #0]*(\\d+)");

    private StatementGuard() {
    }

    /**
     * Refuses, before anything runs, a call of a value-building function whose constant size
     * argument alone asks for more than the result byte limit: DuckDB cannot interrupt one call,
     * and its string memory is not bounded by {@code memory_limit}.
     */
    static void checkValueBuilders(JsonNode node, long maxResultBytes) {
        if (node == null) {
            return;
        }
        if (node.isObject() && "TABLE_FUNCTION".equals(node.path("type").asText())) {
            // range(n) in FROM yields rows in chunks, which the time limit stops: judge only its arguments.
            checkValueBuilders(node.path("function").path("arguments"), maxResultBytes);
            return;
        }
        if (node.isObject() && "FUNCTION".equals(node.path("class").asText())) {
            String name = node.path("function_name").asText("").toLowerCase(Locale.ROOT);
            Integer unit = VALUE_BUILDERS.get(name);
            if (unit != null) {
                BigDecimal asked = askedBytes(name, unit, node.path("arguments"));
                if (asked.compareTo(BigDecimal.valueOf(maxResultBytes)) > 0) {
                    throw new SqlSandboxException(SqlSandboxException.Kind.RESULT_TOO_LARGE, name + "(…) asks for "
                            + asked.toBigInteger() + " bytes, more than the result byte limit of "
                            + maxResultBytes + " bytes (maxResultBytes, sql.max-result-bytes); nothing ran");
                }
            }
        }
        for (JsonNode child : node) {
            checkValueBuilders(child, maxResultBytes);
        }
    }

    private static BigDecimal askedBytes(String name, int unit, JsonNode arguments) {
        BigDecimal largest = BigDecimal.ZERO;
        BigDecimal text = BigDecimal.ONE;
        for (JsonNode a : arguments) {
            JsonNode e = a.has("expression") ? a.get("expression") : a;
            while ("CAST".equals(e.path("class").asText())) {
                e = e.path("child");
            }
            if (!"CONSTANT".equals(e.path("class").asText())) {
                continue;
            }
            String kind = e.path("literal").path("kind").asText("");
            String value = e.path("literal").path("text").asText("");
            if (kind.equals("STRING")) {
                text = text.max(BigDecimal.valueOf(value.length()));
                if (name.equals("printf") || name.equals("format")) {
                    Matcher m = FORMAT_WIDTH.matcher(value);
                    while (m.find()) {
                        largest = largest.max(new BigDecimal(m.group(1)));
                    }
                }
                continue;
            }
            try {
                largest = largest.max(new BigDecimal(value).abs());
            } catch (NumberFormatException ignored) {
                // not a number: nothing to judge statically
            }
        }
        if (unit == 0) {
            return BigDecimal.ZERO; // a table function: rows come in chunks the time limit can stop
        }
        return name.equals("repeat") ? largest.multiply(text) : largest.multiply(BigDecimal.valueOf(unit));
    }

    /** Refuses anything but exactly one SELECT, by DuckDB's own parser, before anything is prepared. */
    static JsonNode checkSingleSelect(Connection conn, String sql) {
        String serialized;
        try (PreparedStatement ps = conn.prepareStatement("SELECT json_serialize_sql(?)")) {
            ps.setString(1, sql);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                serialized = rs.getString(1);
            }
        } catch (SQLException e) {
            throw new SqlSandboxException(SqlSandboxException.Kind.REJECTED, "the statement could not be parsed: "
                    + EngineErrors.scrubPaths(firstLine(e.getMessage())), e);
        }
        JsonNode parsed;
        try {
            parsed = JSON.readTree(serialized);
        } catch (IOException e) {
            throw new SqlSandboxException(SqlSandboxException.Kind.REJECTED, "the statement could not be checked", e);
        }
        if (parsed.path("error").asBoolean(false)) {
            String type = parsed.path("error_type").asText("");
            String msg = parsed.path("error_message").asText("");
            if (type.equals("not implemented") || msg.contains("Only SELECT")) {
                throw new SqlSandboxException(SqlSandboxException.Kind.REJECTED, "only a single SELECT statement is "
                        + "allowed (no DDL, DML, SET/RESET, PRAGMA, ATTACH, COPY, INSTALL/LOAD, EXPLAIN or CALL): "
                        + abbreviate(sql));
            }
            throw new SqlSandboxException(SqlSandboxException.Kind.INVALID, "the statement does not parse: "
                    + EngineErrors.scrubPaths(msg));
        }
        int n = parsed.path("statements").size();
        if (n != 1) {
            throw new SqlSandboxException(SqlSandboxException.Kind.REJECTED, "exactly one statement is allowed, got "
                    + n + ": " + abbreviate(sql));
        }
        return parsed;
    }

    static String firstLine(String s) {
        if (s == null) {
            return "";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }

    static String abbreviate(String sql) {
        String one = sql.strip().replaceAll("\\s+", " ");
        return one.length() <= 120 ? one : one.substring(0, 120) + "…";
    }
}
