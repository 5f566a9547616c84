package dev.tally.worker.http;

import dev.tally.store.EventRules;
import dev.tally.store.correct.ClosedPeriodException;
import dev.tally.store.correct.Correction;
import dev.tally.store.correct.CorrectionCodec;
import dev.tally.store.correct.CorrectionRecord;
import dev.tally.store.correct.CorrectionRejection;
import dev.tally.store.correct.CorrectionResult;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The corrections endpoints' work between the request and the JSON answer: {@code POST
 * /v1/corrections} (one correction, {@link CorrectionCodec}) and {@code GET /v1/corrections}.
 *
 * <p>Thread-safe: stateless.
 */
final class CorrectionRoutes {
    private CorrectionRoutes() {
    }

    /**
     * Applies the correction in {@code body}. A token may only correct its own tenant's events
     * (403 otherwise, before anything is read); a closed period answers 409 naming it.
     */
    static Map<String, Object> post(ApiBackend backend, byte[] body, String principal) {
        Correction c = parse(body, principal);
        CorrectionResult r;
        try {
            r = backend.correct(c);
        } catch (ClosedPeriodException e) {
            Map<String, Object> extra = Json.object();
            extra.put("periods", e.periods());
            throw new ApiException(409, "closed_period", e.getMessage(), extra);
        } catch (IllegalArgumentException e) {
            throw ApiException.badRequest("invalid_correction", e.getMessage() + "; nothing was corrected");
        }
        Map<String, Object> m = Json.object();
        m.put("correction_id", r.correctionId());
        m.put("duplicate", r.duplicate());
        m.put("events", r.events());
        List<Map<String, Object>> rejected = new ArrayList<>();
        for (CorrectionRejection x : r.rejected()) {
            Map<String, Object> j = Json.object();
            j.put("index", x.index());
            j.put("id", x.id());
            j.put("reason", x.reason().code());
            j.put("message", x.message());
            rejected.add(j);
        }
        m.put("rejected", rejected);
        m.put("forced_periods", r.forcedPeriods());
        return m;
    }

    /**
     * Journals the correction in {@code body} ({@code ?via=journal}) and answers once it is
     * durable; the import applies it after every event acknowledged before it, and dead-letters
     * what the store refuses. The same checks as {@link #post} run first (codec, token's tenant).
     */
    static Map<String, Object> journal(ApiBackend backend, byte[] body, String principal) {
        Correction c = parse(body, principal);
        try {
            backend.journalCorrection(c);
        } catch (IllegalArgumentException e) {
            throw ApiException.badRequest("invalid_correction", e.getMessage() + "; nothing was journaled");
        }
        Map<String, Object> m = Json.object();
        m.put("correction_id", c.correctionId());
        m.put("journaled", true);
        return m;
    }

    private static Correction parse(byte[] body, String principal) {
        Correction c;
        try {
            c = CorrectionCodec.parse(new String(body, StandardCharsets.UTF_8));
        } catch (IllegalArgumentException e) {
            throw ApiException.badRequest("invalid_correction", e.getMessage() + "; nothing was corrected");
        }
        if (principal != null && (!principal.equals(c.tenant())
                || c.replacement() != null && !principal.equals(c.replacement().tenant()))) {
            throw new ApiException(403, "forbidden", "the token is for tenant '" + principal + "', not '" + c.tenant()
                    + "'; nothing was corrected");
        }
        return c;
    }

    /** The corrections of {@code tenant} (the caller scoped it to the token), oldest first. */
    static Map<String, Object> list(ApiBackend backend, String tenant) throws IOException {
        if (tenant == null) {
            throw ApiException.badRequest("invalid_parameter", "tenant is required (?tenant=...)");
        }
        if (!EventRules.isTenant(tenant)) {
            throw ApiException.badRequest("invalid_parameter", "tenant = '" + tenant + "' is not a tenant name");
        }
        List<Map<String, Object>> list = new ArrayList<>();
        for (CorrectionRecord rec : backend.corrections(tenant)) {
            Map<String, Object> j = Json.object();
            j.put("seq", rec.seq());
            j.put("correction_id", rec.correctionId());
            j.put("tenant", rec.tenant());
            j.put("kind", rec.kind().code());
            j.put("at", rec.at().toString());
            j.put("actor", rec.actor());
            j.put("reason", rec.reason());
            j.put("forced", rec.forced());
            j.put("forced_periods", rec.forcedPeriods());
            j.put("events", rec.events());
            j.put("request", Json.MAPPER.readTree(rec.request()));
            list.add(j);
        }
        Map<String, Object> m = Json.object();
        m.put("corrections", list);
        return m;
    }
}
