package dev.tally.worker.testing;

import dev.tally.store.EventCodec;
import dev.tally.store.UsageEvent;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/** Usage events for worker tests, as objects and as the JSON the API takes. */
public final class Events {
    private Events() {
    }

    public static UsageEvent event(String tenant, String id, String subject, Instant time, long inputTokens) {
        return new UsageEvent(tenant, id, "llm.request", subject, "test", time,
                "{\"model\":\"atlas-mini\",\"input_tokens\":" + inputTokens + ",\"output_tokens\":" + (inputTokens / 4)
                        + "}");
    }

    public static String json(String tenant, String id, String subject, Instant time, long inputTokens) {
        return EventCodec.toJson(event(tenant, id, subject, time, inputTokens));
    }

    /** {@code n} events {@code prefix-0..n-1} one second apart before {@code end}, as a JSON array. */
    public static String array(String tenant, String prefix, int n, Instant end, long tokens) {
        List<String> parts = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            parts.add(json(tenant, prefix + "-" + i, "key-" + (i % 3), end.minusSeconds(n - i), tokens));
        }
        return "[" + String.join(",", parts) + "]";
    }
}
