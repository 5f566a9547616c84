package dev.tally.store.internal;

import static dev.tally.store.testing.TestEvents.event;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.tally.store.RetentionReason;
import dev.tally.store.RetentionReport;
import dev.tally.store.SegmentInfo;
import dev.tally.store.testing.MutableClock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

class RetentionTest {
    @TempDir
    Path dir;

    private final MutableClock clock = new MutableClock(StoreFixture.NOW);
    private final ListAppender<ILoggingEvent> logs = new ListAppender<>();
    private final Logger partLog = (Logger) LoggerFactory.getLogger(PartHandle.class);

    @BeforeEach
    void captureLogs() {
        logs.start();
        partLog.addAppender(logs);
        partLog.setLevel(ch.qos.logback.classic.Level.INFO);
    }

    @AfterEach
    void releaseLogs() {
        partLog.detachAppender(logs);
    }

    /** Retention deletes exactly the expired detail parts, keeps their rollups, and logs each deletion's reason. */
    @Test
    void retention_deletesExactlyExpiredPartsAndLogsWhy() throws Exception {
        try (TieredStore store = StoreFixture.open(StoreFixture.config(dir, clock))) {
            Instant d30 = StoreFixture.NOW.minus(Duration.ofDays(30));
            Instant d10 = StoreFixture.NOW.minus(Duration.ofDays(10));
            store.append(List.of(event("acme", "old", "k", d30, 1), event("acme", "mid", "k", d10, 2),
                    event("acme", "new", "k", StoreFixture.NOW.minusSeconds(5), 3)));
            store.sealNow();
            clock.advance(Duration.ofDays(6)); // the 30-day-old part is now 36 days old

            RetentionReport dry = store.retention(true);
            assertEquals(List.of(RetentionReason.DETAIL_EXPIRED), dry.actions().stream().map(a -> a.reason()).toList());
            assertTrue(Files.exists(dir.resolve(dry.actions().get(0).path())), "a dry run deletes nothing");

            RetentionReport done = store.retention(false);
            assertEquals(dry.actions(), done.actions());
            assertFalse(Files.exists(dir.resolve(done.actions().get(0).path())));
            assertTrue(logs.list.stream().anyMatch(e -> e.getFormattedMessage().contains("DETAIL_EXPIRED")
                    && e.getFormattedMessage().contains(done.actions().get(0).path())), "deletion logged with its reason");

            long detail = store.segments().stream().filter(s -> s.state() == SegmentInfo.State.SEALED_DETAIL).count();
            long rollups = store.segments().stream().filter(s -> s.state() == SegmentInfo.State.SEALED_ROLLUP).count();
            assertEquals(2, detail);
            assertEquals(3, rollups, "rollups outlive detail");
            var totals = store.total("acme", "llm.request", "k", "$.input_tokens", d30.minusSeconds(1), clock.instant());
            assertEquals(5, totals.sum().intValue());

            clock.advance(Duration.ofDays(400));
            RetentionReport late = store.retention(false);
            assertEquals(5, late.actions().size(), "2 detail + 3 rollup parts: " + late.actions());
            assertTrue(store.segments().stream().allMatch(s -> s.state() == SegmentInfo.State.ACTIVE));
            assertEquals(java.util.Set.of(), CompactionTest.filesOnDisk(dir, KeysFile.SUFFIX), "key sidecars go with their parts");
            assertEquals(java.util.Set.of(), CompactionTest.filesOnDisk(dir, TotalsFile.SUFFIX), "totals go with their parts");
        }
    }

    /**
     * Retention removes the partition folders that compaction emptied once they are older than the
     * grace period, never a fresh folder or one that holds a file, and every answer stays the same.
     */
    @Test
    void retention_emptyPartitionFoldersAfterGracePeriod_deleted() throws Exception {
        try (TieredStore store = StoreFixture.open(StoreFixture.config(dir, clock))) {
            CompactionTest.loadTwoSegments(store, "a");
            store.compact(true);
            List<Path> empty = new java.util.ArrayList<>();
            List<Path> full = new java.util.ArrayList<>();
            for (Path tier : List.of(dir.resolve(SegmentFiles.ARCHIVE_DIR), dir.resolve(SegmentFiles.ROLLUPS_DIR))) {
                try (var folders = Files.list(tier)) {
                    for (Path f : folders.toList()) {
                        try (var in = Files.list(f)) {
                            (in.findAny().isPresent() ? full : empty).add(f);
                        }
                    }
                }
            }
            assertTrue(empty.size() > 10, "compaction emptied the sealed days' folders: " + empty);
            Path fresh = empty.remove(0);
            Files.setLastModifiedTime(fresh, FileTime.from(clock.instant().minusSeconds(60)));
            for (Path f : empty) {
                Files.setLastModifiedTime(f, FileTime.from(clock.instant().minus(Duration.ofHours(2))));
            }
            for (Path f : full) {
                Files.setLastModifiedTime(f, FileTime.from(clock.instant().minus(Duration.ofHours(2))));
            }

            store.retention(false);

            assertTrue(empty.stream().noneMatch(Files::exists), "old empty folders are deleted");
            assertTrue(Files.isDirectory(fresh), "a fresh empty folder is kept");
            assertTrue(full.stream().allMatch(Files::isDirectory), "folders with parts are kept");
            CompactionTest.assertExactlyOnce(store, 1_000);
        }
        try (TieredStore reopened = StoreFixture.open(StoreFixture.config(dir, clock))) {
            CompactionTest.assertExactlyOnce(reopened, 1_000);
        }
    }

    /** Orphan cleanup deletes only unreferenced files older than the grace period, never a fresh or published one. */
    @Test
    void retention_orphansOnlyAfterGracePeriod() throws Exception {
        try (TieredStore store = StoreFixture.open(StoreFixture.config(dir, clock))) {
            store.append(List.of(event("acme", "a", "k", StoreFixture.NOW.minusSeconds(5), 1)));
            store.sealNow();
            Path day = Files.createDirectories(dir.resolve("archive/day=2026-11-01"));
            Path fresh = Files.writeString(day.resolve("segment-00000000000000000099.parquet"), "stray");
            Path old = Files.writeString(day.resolve("segment-00000000000000000098.parquet"), "stray");
            Files.setLastModifiedTime(fresh, FileTime.from(clock.instant().minusSeconds(60)));
            Files.setLastModifiedTime(old, FileTime.from(clock.instant().minus(Duration.ofHours(2))));
            for (Path p : Files.walk(dir.resolve("archive")).filter(Files::isRegularFile).toList()) {
                if (!p.equals(fresh)) {
                    Files.setLastModifiedTime(p, FileTime.from(clock.instant().minus(Duration.ofDays(2))));
                }
            }

            RetentionReport r = store.retention(false);
            assertEquals(List.of(RetentionReason.ORPHAN), r.actions().stream().map(a -> a.reason()).toList());
            assertEquals("archive/day=2026-11-01/segment-00000000000000000098.parquet", r.actions().get(0).path());
            assertTrue(Files.exists(fresh));
            assertFalse(Files.exists(old));
            assertEquals(1, store.total("acme", "llm.request", "k", "$.input_tokens", StoreFixture.NOW.minusSeconds(60),
                    StoreFixture.NOW).events(), "published parts are untouched");
        }
    }

    /** A query that pinned a part before retention still reads it; the file goes when the query lets go. */
    @Test
    void retention_deletesPinnedPartOnlyAfterReaderReleases() {
        try (TieredStore store = StoreFixture.open(StoreFixture.config(dir, clock))) {
            store.append(List.of(event("acme", "old", "k", StoreFixture.NOW.minus(Duration.ofDays(30)), 1)));
            store.sealNow();
            TierView pinned = store.acquireView();
            PartHandle part = pinned.parts(PartKind.DETAIL, Instant.MIN, Instant.MAX).get(0);
            clock.advance(Duration.ofDays(6));
            RetentionReport r = store.retention(false);
            assertEquals(List.of(RetentionReason.DETAIL_EXPIRED), r.actions().stream().map(a -> a.reason()).toList(),
                    "a retired part still pinned by a reader is not an orphan");
            assertTrue(Files.exists(part.file()), "still pinned by a reader");
            pinned.release();
            assertFalse(Files.exists(part.file()));
        }
    }
}
