package dev.tally.worker.http;

import dev.tally.store.Rejection;
import dev.tally.store.SegmentInfo;
import dev.tally.store.ValidEvent;
import dev.tally.store.dlq.DeadLetter;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
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
     * Checks the time bounds of events already validated by the parser ({@link ValidEvent}: every
     * clock-free rule) and writes those in bounds to the journal, returning only once they are
     * durable. {@code events.get(i)} is the i-th submitted event, or null when it was refused
     * with the rejection of the same index in {@code rejected}, which the result keeps.
     *
     * @throws dev.tally.store.StoreException when the journal cannot take them (nothing acknowledged)
     */
    IngestResult ingest(List<ValidEvent> events, List<Rejection> rejected);

    /** Every tier's segments and parts. */
    List<SegmentInfo> segments();

    /** The queued dead letters, oldest first (none when the backend has no queue). */
    default List<DeadLetter> deadLetters() {
        return List.of();
    }

    /** Why the worker is not ready to serve, empty when it is. */
    List<String> notReadyReasons();

    /** The registry {@code /metrics} scrapes; the API adds its request counter to it. */
    PrometheusMeterRegistry metrics();

    /**
     * Runs a meter query given as request parameters (see {@code QueryParams}: tenant, from, to,
     * window, tz, subject, group-by, filter, sum-subjects, format). The API has already put the
     * caller's tenant into {@code tenant} when tokens are in use.
     *
     * @throws ApiException for a bad parameter (400), an unknown meter (404) or a question the
     *                      data cannot answer (422)
     */
    Answer meterQuery(String meter, Map<String, List<String>> params);

    /**
     * Runs one sandboxed SELECT over {@code tenant}'s events (optionally only those with time in
     * [from, to), given as text) and returns the result in {@code format} ({@code json}, {@code csv}
     * or {@code table}).
     */
    Answer sql(String statement, String tenant, String from, String to, String format);

    /** Applies a correction; see {@code UsageStore#correct}. */
    default dev.tally.store.correct.CorrectionResult correct(dev.tally.store.correct.Correction correction) {
        throw new ApiException(501, "not_implemented", "this worker does not take corrections");
    }

    /**
     * Journals a correction and returns once it is durable; the import applies it in journal
     * order. See {@code Journal#appendCorrection}.
     */
    default void journalCorrection(dev.tally.store.correct.Correction correction) {
        throw new ApiException(501, "not_implemented", "this worker does not journal corrections");
    }

    /** The corrections of {@code tenant}, oldest first. */
    default List<dev.tally.store.correct.CorrectionRecord> corrections(String tenant) {
        throw new ApiException(501, "not_implemented", "this worker does not list corrections");
    }

    /** A result ready to send. */
    record Answer(String contentType, byte[] body) {
    }
}
