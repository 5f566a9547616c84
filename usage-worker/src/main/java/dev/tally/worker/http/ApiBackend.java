package dev.tally.worker.http;

import dev.tally.store.Rejection;
import dev.tally.store.SegmentInfo;
import java.util.List;
import java.util.Map;

/**
 * What the HTTP API needs from the worker. The API parses, authenticates and maps errors; the
 * backend validates, stores and answers.
 */
public interface ApiBackend {

    /** What an event post did. */
    record IngestResult(int accepted, List<Rejection> rejected) {
        public IngestResult {
            rejected = List.copyOf(rejected);
        }
    }

    /**
     * Validates the parsed events with the store's rules and writes the valid ones to the journal,
     * returning only once they are durable. Rejections of the parse keep their indexes.
     *
     * @throws dev.tally.store.StoreException when the journal cannot take them (nothing acknowledged)
     */
    IngestResult ingest(EventBodyParser.Parsed parsed);

    /** Every tier's segments and parts. */
    List<SegmentInfo> segments();

    /** Why the worker is not ready to serve, empty when it is. */
    List<String> notReadyReasons();

    /** Adds the worker's metric families. */
    void writeMetrics(Prometheus out);

    /**
     * Runs a meter query given as request parameters ({@code from, to, window, tz, subject,
     * group-by, filter}); {@code tenant} is the caller's tenant (null without auth: then the
     * {@code tenant} parameter is required).
     *
     * @return a JSON-ready value
     * @throws ApiException for a bad parameter (400) or an unknown meter (404)
     */
    Object meterQuery(String meter, String tenant, Map<String, List<String>> params);

    /**
     * Runs one sandboxed SQL statement and returns the result in {@code format} ({@code json},
     * {@code csv} or {@code table}); {@code tenant} limits it to one tenant's events, null for all.
     */
    SqlAnswer sql(String statement, String format, String tenant);

    /** A SQL result ready to send. */
    record SqlAnswer(String contentType, byte[] body) {
    }
}
