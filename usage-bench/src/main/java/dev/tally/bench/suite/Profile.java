package dev.tally.bench.suite;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordedFrame;
import jdk.jfr.consumer.RecordedStackTrace;
import jdk.jfr.consumer.RecordingFile;

/**
 * Summarizes a JFR recording of one step: where the Java threads were ({@code jdk.ExecutionSample},
 * top frame), which native methods threads sat in ({@code jdk.NativeMethodSample}: DuckDB's engine
 * and file I/O run there), and the innermost Tally frame of every sample of both kinds, which says
 * which part of the store the time belongs to.
 */
final class Profile {
    private static final int TOP = 8;

    private Profile() {
    }

    /**
     * Summarizes the samples of {@code recording} taken between {@code phase.<phase>.start} and
     * {@code .end} of the results (the whole recording when the phase is not there) under
     * {@code profile.<phase>.}.
     */
    static void summarize(Results out, Path resultsFile, String phase, Path recording) throws Exception {
        Map<String, String> r = Results.read(resultsFile);
        long from = Long.parseLong(r.getOrDefault("phase." + phase + ".start", "0"));
        long to = Long.parseLong(r.getOrDefault("phase." + phase + ".end", Long.toString(Long.MAX_VALUE)));
        String key = phase;
        Map<String, Integer> java = new HashMap<>();
        Map<String, Integer> nat = new HashMap<>();
        Map<String, Integer> tally = new HashMap<>();
        int[] counts = new int[2];
        for (RecordedEvent e : RecordingFile.readAllEvents(recording)) {
            String type = e.getEventType().getName();
            boolean exec = type.equals("jdk.ExecutionSample");
            if (!exec && !type.equals("jdk.NativeMethodSample")) {
                continue;
            }
            long at = e.getStartTime().toEpochMilli();
            if (at < from || at > to) {
                continue;
            }
            RecordedStackTrace st = e.getStackTrace();
            if (st == null || st.getFrames().isEmpty()) {
                continue;
            }
            List<RecordedFrame> frames = st.getFrames();
            String thread = e.getThread("sampledThread") == null ? "" : e.getThread("sampledThread").getJavaName();
            if (!exec && idle(frames.get(0), thread)) {
                continue; // parked in accept/poll/epoll: not work
            }
            counts[exec ? 0 : 1]++;
            (exec ? java : nat).merge(name(frames.get(0)), 1, Integer::sum);
            for (RecordedFrame f : frames) {
                String cls = f.getMethod().getType().getName();
                if (cls.startsWith("dev.tally.store.")) {
                    tally.merge(name(f), 1, Integer::sum);
                    break;
                }
            }
        }
        String p = "profile." + key + ".";
        out.put(p + "execution_samples", counts[0]);
        out.put(p + "native_samples", counts[1]);
        out.put(p + "java_top", top(java, counts[0]));
        out.put(p + "native_top", top(nat, counts[1]));
        out.put(p + "tally_top", top(tally, counts[0] + counts[1]));
    }

    private static boolean idle(RecordedFrame top, String thread) {
        String m = name(top);
        return m.contains("epollWait") || m.contains("socketAccept") || m.contains("Object.wait")
                || m.contains("Unsafe.park") || m.contains("Thread.sleep") || thread.startsWith("JFR")
                || m.contains("socketRead") || m.contains("ServerSocket");
    }

    private static String name(RecordedFrame f) {
        String cls = f.getMethod().getType().getName();
        return cls.substring(cls.lastIndexOf('.') + 1) + "." + f.getMethod().getName();
    }

    private static String top(Map<String, Integer> m, int total) {
        StringBuilder b = new StringBuilder();
        m.entrySet().stream().sorted(Map.Entry.<String, Integer>comparingByValue().reversed()).limit(TOP)
                .forEach(e -> b.append(b.length() == 0 ? "" : "; ").append(e.getKey()).append(' ')
                        .append(String.format(java.util.Locale.ROOT, "%.1f%%", 100.0 * e.getValue() / Math.max(1, total))));
        return b.toString();
    }
}
