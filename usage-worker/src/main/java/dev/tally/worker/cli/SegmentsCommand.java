package dev.tally.worker.cli;

import dev.tally.store.SegmentInfo;
import dev.tally.store.UsageStore;
import dev.tally.worker.config.WorkerConfig;
import java.io.PrintWriter;
import java.time.Clock;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * Lists every tier's segments and parts. Opens the store report-only; while a worker runs on the
 * data directory, asks it through its API instead.
 */
@Command(name = "segments", mixinStandardHelpOptions = true,
        description = {"List tiers and segments: state, time range, rows, bytes.",
                "Read-only: while a worker runs on the data directory, it is asked through its HTTP API."},
        footer = ExitCodes.HELP)
public final class SegmentsCommand implements Callable<Integer> {
    @Mixin
    CommonOptions common;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        WorkerConfig config = common.loadQuiet();
        PrintWriter out = spec.commandLine().getOut();
        Optional<DaemonClient> daemon = DaemonClient.find(config.dataDir(), common.token(), "segments");
        List<SegmentInfo> segments;
        if (daemon.isPresent()) {
            segments = daemon.get().segments();
        } else {
            try (UsageStore store = config.storeBuilder(Clock.systemUTC()).readOnly(true).build()) {
                segments = store.segments();
            }
        }
        out.printf(Locale.ROOT, "%-14s %8s %-66s %-27s %-27s %12s %14s%n", "STATE", "SEQ", "PATH", "FROM", "TO",
                "ROWS", "BYTES");
        long rows = 0;
        long bytes = 0;
        for (SegmentInfo s : segments) {
            out.printf(Locale.ROOT, "%-14s %8d %-66s %-27s %-27s %,12d %,14d%n", s.state(), s.seq(), s.path(),
                    s.minTime() == null ? "-" : s.minTime(), s.maxTime() == null ? "-" : s.maxTime(), s.rows(),
                    s.bytes());
            bytes += s.bytes();
        }
        rows = detailRows(segments);
        out.printf(Locale.ROOT, "%d entries; %,d events in detail; %,d bytes on disk in %s%s%n", segments.size(), rows,
                bytes, config.dataDir(), daemon.map(d -> " (from the running worker at " + d.url() + ")").orElse(""));
        return ExitCodes.OK;
    }

    /** Events the store can read: active, pending and sealed detail; never rollups or quarantined parts. */
    static long detailRows(List<SegmentInfo> segments) {
        long rows = 0;
        for (SegmentInfo s : segments) {
            if (s.state() == SegmentInfo.State.ACTIVE || s.state() == SegmentInfo.State.PENDING
                    || s.state() == SegmentInfo.State.SEALED_DETAIL) {
                rows += s.rows();
            }
        }
        return rows;
    }
}
