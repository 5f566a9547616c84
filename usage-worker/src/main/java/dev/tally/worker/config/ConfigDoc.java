package dev.tally.worker.config;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Renders {@code docs/configuration.md} from {@link Setting}, so the documentation cannot drift
 * from the code: {@code ConfigDocTest} fails when the file differs from {@link #render()}.
 *
 * <pre>
 * java -cp usage-worker/target/classes dev.tally.worker.config.ConfigDoc docs/configuration.md
 * </pre>
 *
 * <p>Thread-safe: stateless.
 */
public final class ConfigDoc {
    private ConfigDoc() {
    }

    /** Writes the document to the path given (default {@code docs/configuration.md}). */
    public static void main(String[] args) throws IOException {
        Path out = Path.of(args.length > 0 ? args[0] : "docs/configuration.md");
        Files.writeString(out, render(), StandardCharsets.UTF_8);
        System.out.println("wrote " + out);
    }

    /** The whole document. */
    public static String render() {
        StringBuilder b = new StringBuilder();
        b.append("""
                # Configuration

                <!-- Generated from usage-worker/src/main/java/dev/tally/worker/config/Setting.java by
                     ConfigDoc; ConfigDocTest fails when this file is out of date. Regenerate with:
                     java -cp usage-worker/target/classes dev.tally.worker.config.ConfigDoc docs/configuration.md -->

                Every command of `usage-worker` reads the same settings. Each setting has a key, and is
                taken from the first of these that sets it (highest precedence first):

                1. **Command-line flags**: `--set key=value` (repeatable), and `--data-dir DIR` for `data-dir`.
                2. **Environment variables**: `TALLY_` followed by the key in upper case with `.` and `-`
                   replaced by `_`, e.g. `segment.max-bytes` is `TALLY_SEGMENT_MAX_BYTES`.
                3. **The configuration file**: a Java properties file (`key = value` lines, `#` comments)
                   given with `--config FILE` or the environment variable `TALLY_CONFIG`.
                4. **The defaults** below.

                Every value is checked at start-up, before anything is opened. An invalid value, or an
                unknown key, stops the command with exit code 3 and a message naming the key, the value,
                where it came from and why it was refused, for example:

                ```
                usage-worker run: segment.max-bytes = 'lots' is not a size (use e.g. 1048576, 512KiB, 64MiB, 1GiB) (from environment variable TALLY_SEGMENT_MAX_BYTES)
                ```

                Value syntax:

                | kind | syntax | examples |
                |---|---|---|
                | duration | a whole number and a unit: `ms`, `s`, `m`, `h`, `d` | `500ms`, `30s`, `5m`, `1h`, `35d` |
                | bytes | a whole number, optionally with `KiB`, `MiB` or `GiB` (powers of 1024) | `1048576`, `512KiB`, `64MiB` |
                | path | a file or folder; relative paths are resolved against the working directory | `/var/lib/tally` |
                | paths | paths separated by commas | `/srv/spool/a,/srv/spool/b` |

                Two rules tie settings together: `retention.rollups` must be at least `retention.detail`,
                and `events.max-age` at most `retention.detail` (so an event is never accepted after the
                detail it would be checked against for duplicates is gone). Both are the store's own rules
                (`StoreConfig.crossCheck`): the worker's loader and the library's `UsageStoreBuilder` check
                the same rules, each naming the settings in its own terms. When both are broken at once, the
                loader and the builder name the `events.max-age` rule first.

                With several workers splitting the tenants (`docs/scale-out.md`), `shard.id` and
                `shard.map-file` go together, and the map file is checked at start-up like every
                other value: each tenant has one owner, each worker an http(s) base URL, and this
                worker's id is in it.

                An example file:

                ```properties
                data-dir = /var/lib/tally
                http.host = 127.0.0.1
                http.port = 8080
                http.tokens-file = /etc/tally/tokens.properties
                import.spool-dirs = /srv/usage-spool
                retention.detail = 35d
                log.format = json
                ```
                """);
        for (Setting.Group g : Setting.Group.values()) {
            b.append("\n## ").append(g.title()).append("\n\n");
            b.append("| key | meaning | default | unit | environment variable |\n");
            b.append("|---|---|---|---|---|\n");
            for (Setting s : Setting.values()) {
                if (s.group() != g) {
                    continue;
                }
                b.append("| `").append(s.key()).append("` | ").append(cell(s.meaning())).append(" | ")
                        .append(s.defaultValue().isEmpty() ? "(empty)" : "`" + s.defaultValue() + "`").append(" | ")
                        .append(cell(s.unit())).append(" | `").append(s.envName()).append("` |\n");
            }
        }
        return b.toString();
    }

    private static String cell(String text) {
        return text.replace("|", "\\|");
    }
}
