package dev.tally.store.verify;

import dev.tally.store.EventCodec;
import dev.tally.store.EventRejectedException;
import dev.tally.store.ImportPosition;
import dev.tally.store.StoreException;
import dev.tally.store.UsageEvent;
import dev.tally.store.engine.TimeUtil;
import dev.tally.store.ingest.JournalImporter;
import dev.tally.store.ingest.LineReader;
import dev.tally.store.ingest.PositionCheck;
import dev.tally.store.ingest.PositionCheck.Zone;
import dev.tally.store.ingest.PrefixFingerprint;
import dev.tally.store.ingest.QuarantineEntry;
import dev.tally.store.ingest.SpoolDirectory;
import dev.tally.store.ingest.SpoolScanner;
import dev.tally.store.journal.JournalFiles;
import dev.tally.store.journal.JournalReadResult;
import dev.tally.store.journal.JournalReader;
import dev.tally.store.journal.JournalRecord;
import dev.tally.store.journal.JournalSource;
import dev.tally.store.verify.Source.Stat;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.duckdb.DuckDBAppender;
import org.duckdb.DuckDBConnection;

/**
 * Verify's source reading. Lists and stats every source still on disk (rotated and live journal
 * files, spool files of the configured directories) right after the store snapshot, then reads
 * each file once from byte 0 on an open channel it found again by identity: checks its committed
 * prefix against the snapshot's import position by the importer's own rules
 * ({@link PositionCheck}: journal CRC32C of the 256 bytes before the boundary; spool SHA-256 of
 * exactly the consumed prefix, digested from the same bytes the lines are parsed from through
 * {@link PrefixTee}), bulk-loads every complete line with its {@link Zone} and dead-letter flag
 * into {@link #TABLE} of the snapshot's in-memory DuckDB, and stats the file again.
 *
 * <p>Not thread-safe: confined to one run's thread. Holds no lock of the store and never writes
 * to the data directory.
 */
final class SourceReader {
    /** The table of source lines in the snapshot's in-memory database. */
    static final String TABLE = "verify_src";
    private static final int JOURNAL_BATCH = 8_192;

    private final Path dataDir;
    private final List<SpoolDirectory> spoolDirs;
    private final int maxLineBytes;
    private final Clock clock;
    private final DeadLetterIndex dlq;
    private final List<Source> sources = new ArrayList<>();
    private Map<String, ImportPosition> positions;
    private long ord;

    SourceReader(Path dataDir, List<SpoolDirectory> spoolDirs, int maxLineBytes, Clock clock, DeadLetterIndex dlq) {
        this.dataDir = dataDir;
        this.spoolDirs = List.copyOf(spoolDirs);
        this.maxLineBytes = maxLineBytes;
        this.clock = clock;
        this.dlq = dlq;
    }

    /** The listed sources, by index ({@code file_idx} in {@link #TABLE}). */
    List<Source> sources() {
        return sources;
    }

    /** Lists and stats every source: right after the store snapshot, before its copies are opened. */
    void listSources() throws IOException {
        JournalReader reader = new JournalReader(dataDir);
        for (JournalSource js : reader.sources()) {
            Source s = new Source(sources.size(), "journal", JournalImporter.DEAD_LETTER_PREFIX + js.name(),
                    js.path(), JournalImporter.positionKey(js));
            s.live = js.live();
            s.identity = js.identity();
            Stat st = Stat.journal(js.path());
            if (st != null && st.identity().equals(js.identity())) {
                s.stat0 = st;
            } else {
                // Rotated (or reaped) between the listing and the stat: only the listing's size is known.
                s.stat0 = new Stat(js.sizeBytes(), null, js.identity());
            }
            sources.add(s);
        }
        SpoolScanner scanner = new SpoolScanner(dataDir, spoolDirs, maxLineBytes, true, clock);
        Map<String, QuarantineEntry> quarantined = new HashMap<>();
        for (QuarantineEntry q : scanner.quarantined()) {
            quarantined.put(q.source(), q);
        }
        for (SpoolScanner.Listed l : scanner.list()) {
            Source s = new Source(sources.size(), "spool", l.source(), l.path(), l.source());
            s.stat0 = Stat.spool(l.path());
            s.quarantine = quarantined.get(l.source());
            sources.add(s);
        }
    }

    /**
     * Positions of journal and spool sources whose file is no longer on disk (reaped, deleted):
     * counted, not compared.
     */
    long positionsWithoutFile(Map<String, ImportPosition> positions) {
        long n = 0;
        Set<String> onDisk = new HashSet<>();
        sources.forEach(x -> onDisk.add(x.positionKey));
        if (positions != null) {
            for (String key : positions.keySet()) {
                if ((key.startsWith(JournalImporter.SOURCE_PREFIX) || key.startsWith(SpoolScanner.SOURCE_PREFIX))
                        && !onDisk.contains(key)) {
                    n++;
                }
            }
        }
        return n;
    }

    /**
     * Reads every listed source once from byte 0 into {@link #TABLE} (created here), checking each
     * committed prefix against its position ({@code positions}: the snapshot's, null when it has
     * none) and stat'ing each file again after it was read.
     */
    void readAll(DuckDBConnection c, Map<String, ImportPosition> positions, Verifier.Hooks hooks)
            throws IOException, SQLException {
        this.positions = positions;
        try (Statement s = c.createStatement()) {
            s.execute("CREATE TABLE " + TABLE + " (ord BIGINT, file_idx INTEGER, start_off BIGINT, end_off BIGINT, "
                    + "zone TINYINT, damaged BOOLEAN, dlq BOOLEAN, tenant VARCHAR, id VARCHAR, type VARCHAR, "
                    + "subject VARCHAR, source VARCHAR, time_us BIGINT, data VARCHAR, note VARCHAR)");
        }
        try (DuckDBAppender ap = c.createAppender("memory", "main", TABLE)) {
            for (Source src : sources) {
                read(src, ap);
                hooks.beforeRestat(src.openedPath != null ? src.openedPath : src.path);
                restat(src);
            }
            ap.flush();
        }
    }

    // ---------------------------------------------------------------- reading

    private void read(Source src, DuckDBAppender ap) throws IOException, SQLException {
        if (src.stat0 == null) {
            src.removed("removed between the listing and the first stat; its lines were not read");
            return;
        }
        FileChannel ch = openStable(src);
        if (ch == null) {
            return;
        }
        try (ch) {
            if (src.kind.equals("journal")) {
                readJournal(src, ch, ap);
            } else {
                readSpool(src, ch, ap);
            }
        } catch (StoreException | IOException e) {
            if (e instanceof StoreException && !(e.getCause() instanceof IOException)) {
                throw e;
            }
            src.check = "unreadable";
            src.fileClass = VerifyClass.INCONCLUSIVE;
            src.note("could not be read to the end (" + e.getMessage() + "); its remaining lines were not compared");
        }
    }

    /**
     * Opens the file the listing saw, by its identity: the name is stat'ed before and after
     * the open, and a journal that was rotated meanwhile is found again under its archive
     * name. Returns null (and records why) when it is gone.
     */
    private FileChannel openStable(Source src) throws IOException {
        List<Path> candidates = new ArrayList<>();
        candidates.add(src.path);
        if (src.kind.equals("journal")) {
            candidates.addAll(archives());
        }
        for (Path p : candidates) {
            Stat before = src.kind.equals("journal") ? Stat.journal(p) : Stat.spool(p);
            if (before == null || !before.identity().equals(src.stat0.identity())) {
                continue;
            }
            FileChannel ch;
            try {
                ch = FileChannel.open(p, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS);
            } catch (NoSuchFileException e) {
                continue;
            }
            Stat after = src.kind.equals("journal") ? Stat.journal(p) : Stat.spool(p);
            if (after != null && after.identity().equals(before.identity())) {
                if (!p.equals(src.path)) {
                    src.note("rotated to " + p.getFileName() + " after the snapshot; read under that name");
                    src.written = true;
                }
                src.openedPath = p;
                return ch;
            }
            ch.close();
        }
        if (src.kind.equals("spool") && Files.exists(src.path, LinkOption.NOFOLLOW_LINKS)) {
            // Another file has the name now: read that one, and the identity check decides.
            src.openedPath = src.path;
            src.written = true;
            src.note("replaced by another file after the snapshot");
            try {
                return FileChannel.open(src.path, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS);
            } catch (NoSuchFileException e) {
                // gone after all
            }
        }
        src.removed("removed after the snapshot (a reaped journal archive, or a spool file deleted); "
                + "its lines were not read");
        return null;
    }

    private List<Path> archives() throws IOException {
        List<Path> out = new ArrayList<>();
        Path dir = new JournalFiles(dataDir).journalDir();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            for (Path p : ds) {
                if (JournalFiles.isArchiveName(p.getFileName().toString())) {
                    out.add(p);
                }
            }
        } catch (NoSuchFileException e) {
            return out;
        }
        out.sort(null);
        return out;
    }

    private void readJournal(Source src, FileChannel ch, DuckDBAppender ap) throws IOException, SQLException {
        ImportPosition p = positions == null ? null : positions.get(src.positionKey);
        if (positions == null) {
            src.positionsUnknown();
        } else if (p == null) {
            src.boundary = 0;
            src.check = "not-imported";
        } else if (PositionCheck.staleArchive(p, src.path.getFileName().toString())) {
            // A verify-only rule: PositionCheck.staleArchive says why the importer needs none.
            src.boundary = 0;
            src.check = "stale-position";
            src.note("its identity was last imported as " + p.identity() + ", a reaped archive whose inode "
                    + "it reuses; it is not imported yet");
        } else {
            src.boundary = p.offset();
            PositionCheck.Drift drift = PositionCheck.journal(p, ch);
            if (drift != null) {
                src.suspect(drift.check(), drift.detail());
            }
        }
        JournalReader reader = new JournalReader(dataDir);
        Path name = src.path; // journal.wal keeps the live journal's rule for a damaged tail
        long off = 0;
        while (true) {
            JournalReadResult r = reader.read(ch, name, off, JOURNAL_BATCH, maxLineBytes);
            for (JournalRecord rec : r.records()) {
                if (rec instanceof JournalRecord.Event e) {
                    UsageEvent ev = e.event();
                    boolean dead = dlq.journal(e.startOffset(), () -> EventCodec.toJson(ev)
                            .getBytes(StandardCharsets.UTF_8));
                    emit(ap, src, e.startOffset(), e.endOffset(), ev, dead, null);
                } else if (rec instanceof JournalRecord.Damaged d) {
                    boolean dead = dlq.journal(d.startOffset(), d::raw);
                    emit(ap, src, d.startOffset(), d.endOffset(), null, dead, d.reason().code() + ": " + d.message());
                }
            }
            off = r.nextOffset();
            if (r.atEnd()) {
                break;
            }
        }
        src.bytesRead = off;
        src.tailBytes = Math.max(0, ch.size() - off);
        if (src.tailBytes > 0) {
            src.note(src.tailBytes + " bytes after the last complete record (a write in progress or a torn tail) "
                    + "were not compared");
        }
    }

    private void readSpool(Source src, FileChannel ch, DuckDBAppender ap) throws IOException, SQLException {
        long size = ch.size();
        ImportPosition p = positions == null ? null : positions.get(src.positionKey);
        String identity = PrefixFingerprint.identity(src.openedPath);
        long digestUpTo = -1;
        if (positions == null) {
            src.positionsUnknown();
        } else if (p == null) {
            src.boundary = 0;
            src.check = "not-imported";
        } else {
            src.boundary = p.offset();
            PositionCheck.Drift drift = PositionCheck.spoolBeforeRead(p, identity, size);
            if (drift != null) {
                src.changed(drift);
            } else {
                digestUpTo = p.offset();
            }
        }
        if (src.quarantine != null) {
            src.note("quarantined by the importer since " + src.quarantine.quarantinedAt() + ": "
                    + src.quarantine.detail());
        }
        PrefixTee tee = new PrefixTee(ch, digestUpTo);
        try (LineReader reader = new LineReader(tee, 0, maxLineBytes, LineReader.DEFAULT_BUFFER_BYTES, null)) {
            LineReader.Line line;
            while ((line = reader.next()) != null) {
                byte[] content = line.content();
                UsageEvent ev = null;
                String note = null;
                try {
                    ev = line.parse(maxLineBytes);
                } catch (EventRejectedException e) {
                    note = e.reason().code() + ": " + e.getMessage();
                }
                boolean dead = dlq.spool(src.positionKey, line.start(), content);
                emit(ap, src, line.start(), line.end(), ev, dead, note);
            }
            src.bytesRead = reader.boundary();
            src.tailBytes = Math.max(0, tee.total() - reader.boundary());
        }
        if (src.tailBytes > 0) {
            src.note(src.tailBytes + " bytes of a partial last line were not compared");
        }
        if (digestUpTo >= 0) {
            PositionCheck.Drift drift = PositionCheck.spoolPrefix(p, tee.prefix());
            if (drift != null) {
                src.changed(drift);
            }
        }
    }

    /** One complete line into the source table. */
    private void emit(DuckDBAppender ap, Source src, long start, long end, UsageEvent e, boolean dead, String note)
            throws SQLException {
        ap.beginRow();
        ap.append(ord++);
        ap.append(src.idx);
        ap.append(start);
        ap.append(end);
        ap.append((byte) src.zone(end).ordinal());
        ap.append(e == null);
        ap.append(dead);
        if (e == null) {
            for (int i = 0; i < 5; i++) {
                ap.appendNull();
            }
            ap.appendNull();
            ap.appendNull();
        } else {
            appendNullable(ap, e.tenant());
            appendNullable(ap, e.id());
            appendNullable(ap, e.type());
            appendNullable(ap, e.subject());
            appendNullable(ap, e.source() == null || e.source().isEmpty() ? null : e.source());
            if (e.time() == null) {
                ap.appendNull();
            } else {
                ap.append(TimeUtil.toMicros(e.time()));
            }
            appendNullable(ap, e.data());
        }
        appendNullable(ap, note);
        ap.endRow();
    }

    private void restat(Source src) throws IOException {
        if (src.openedPath == null) {
            return;
        }
        Stat now = src.kind.equals("journal") ? Stat.journal(src.openedPath) : Stat.spool(src.openedPath);
        if (now == null) {
            src.written = true;
            src.note("removed while it was read");
        } else if (!now.identity().equals(src.stat0.identity())) {
            src.written = true;
            src.note("renamed, rotated or replaced while it was read");
        } else if (now.size() != src.stat0.size() || src.stat0.modified() == null
                || !now.modified().equals(src.stat0.modified())) {
            src.written = true;
            src.note("written after the snapshot (" + src.stat0.size() + " bytes then, " + now.size() + " now)");
        }
    }

    /**
     * A journal file whose committed position does not match it (shorter than the boundary, or
     * other bytes before it) is either rewritten or a new file that reuses the inode of a
     * reaped archive (its position key is the inode), which the importer then reads from the
     * start. It is judged changed if any of its lines is stored or dead-lettered (the position
     * did describe it); if none is, it is the new file: its lines are not imported yet.
     */
    void resolveSuspects(DuckDBConnection c, String storeSql) throws SQLException {
        List<Source> suspects = sources.stream().filter(x -> x.suspect).toList();
        if (suspects.isEmpty()) {
            return;
        }
        StringBuilder in = new StringBuilder();
        for (Source x : suspects) {
            in.append(in.isEmpty() ? "" : ", ").append(x.idx);
        }
        Set<Integer> known = new HashSet<>();
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("WITH st AS (" + storeSql + ") "
                + "SELECT DISTINCT s.file_idx FROM " + TABLE + " s WHERE s.file_idx IN (" + in + ") AND (s.dlq OR "
                + "EXISTS (SELECT 1 FROM st WHERE st.tenant = s.tenant AND st.id = s.id))")) {
            while (rs.next()) {
                known.add(rs.getInt(1));
            }
        }
        for (Source x : suspects) {
            if (known.contains(x.idx)) {
                x.changed(x.check, x.suspectWhy);
                continue;
            }
            x.check = "stale-position";
            x.note("none of its lines is stored or dead-lettered, so the position belongs to an earlier file "
                    + "with the same inode (a reaped archive): it is not imported yet");
            x.boundary = 0;
            try (PreparedStatement ps = c.prepareStatement("UPDATE " + TABLE + " SET zone = CASE WHEN end_off <= ? "
                    + "THEN " + Zone.PENDING.ordinal() + " ELSE " + Zone.RACED.ordinal() + " END WHERE file_idx = ?")) {
                ps.setLong(1, x.stat0.size());
                ps.setInt(2, x.idx);
                ps.executeUpdate();
            }
        }
    }

    private static void appendNullable(DuckDBAppender ap, String s) throws SQLException {
        if (s == null) {
            ap.appendNull();
        } else {
            ap.append(s);
        }
    }
}
