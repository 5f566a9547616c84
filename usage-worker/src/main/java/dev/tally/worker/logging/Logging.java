package dev.tally.worker.logging;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.joran.JoranConfigurator;
import ch.qos.logback.core.joran.spi.JoranException;
import dev.tally.worker.config.Setting;
import dev.tally.worker.config.WorkerConfig;
import java.net.URL;
import org.slf4j.LoggerFactory;

/**
 * Applies the logging settings at start-up: {@code log.format=json} switches Logback from
 * {@code logback.xml} (text lines) to {@code logback-json.xml} (one JSON object per line), and
 * {@code log.level} sets the root level. Logs always go to standard error, so command output on
 * standard output stays clean.
 *
 * <p>Thread-safe: serialized on the class; meant to run once per process, before the work starts.
 */
public final class Logging {
    private static String appliedFormat = "text";

    private Logging() {
    }

    /** Applies {@code log.format} and {@code log.level} from {@code config}. */
    public static synchronized void apply(WorkerConfig config) {
        apply(config.string(Setting.LOG_FORMAT), config.string(Setting.LOG_LEVEL));
    }

    /** Applies a format ({@code text} or {@code json}) and a root level name. */
    public static synchronized void apply(String format, String level) {
        if (!(LoggerFactory.getILoggerFactory() instanceof LoggerContext ctx)) {
            return; // another SLF4J binding: leave its configuration alone
        }
        if (!format.equals(appliedFormat)) {
            URL resource = Logging.class.getResource(format.equals("json") ? "/logback-json.xml" : "/logback.xml");
            if (resource != null) {
                try {
                    JoranConfigurator configurator = new JoranConfigurator();
                    configurator.setContext(ctx);
                    ctx.reset();
                    configurator.doConfigure(resource);
                    appliedFormat = format;
                } catch (JoranException e) {
                    System.err.println("usage-worker: cannot switch the log format to " + format + ": " + e);
                }
            }
        }
        Logger root = ctx.getLogger(Logger.ROOT_LOGGER_NAME);
        root.setLevel(Level.toLevel(level, Level.INFO));
    }
}
