package dev.tally.bench.suite;

import java.nio.file.Path;

final class Report {
    static void write(Path results, Path doc, Path png) {
    }
}
