package dev.tally.store.testing;

import dev.tally.store.io.FileIo;
import dev.tally.store.io.FileSync;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.CopyOption;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.Set;

/**
 * A file system that loses power. Installed with {@link #install}, it sees every file Tally opens
 * for writing, renames, deletes or whose directory it forces under one root (through
 * {@link FileSync}); everything else goes to the real file system.
 *
 * <p>The real files act as the page cache: writes land in them at once, so readers see them. Next
 * to that the simulation keeps what a power cut would leave: each file's content as of its last
 * {@code force()}, and each directory entry as of its directory's last fsync. Every write, truncate,
 * force, create, rename, delete and directory fsync is a numbered <em>step</em>; at step
 * {@code cutAt} the power goes out: that step and every later one throws {@link PowerCut} and
 * nothing becomes durable any more. {@link #crash} then rewrites the real files to what survived:
 * unforced writes are dropped (with {@code tear}, a random prefix of the unforced tail, up to one
 * 4 KiB page, survives as garbage or zeros), creations, renames and deletions not made durable by
 * a directory fsync are undone.
 *
 * <p>Model limits: directories themselves are always durable (they are created outside the
 * seam); files written by DuckDB are not tracked, only renamed and deleted, and their content
 * counts as durable; a file existing before its first tracked write counts as durable as it was.
 *
 * <p>Thread-safe: every method holds this object's monitor.
 */
public final class PowerLossFileIo implements FileIo {
    /** Thrown at and after the step where the power goes out. */
    public static final class PowerCut extends IOException {
        PowerCut(String message) {
            super(message);
        }
    }

    private static final int PAGE = 4096;

    private final Path root;
    private final Path graveyard;
    private final long cutAt;
    private final Random random;
    private final AutoCloseable installation;
    private final List<String> steps = new ArrayList<>();
    /** Current name to file, for every file under the root the simulation has seen. */
    private final Map<Path, Inode> live = new HashMap<>();
    /** For each name changed since its directory's last fsync: what the device has there. */
    private final Map<Path, Optional<Inode>> durableNames = new LinkedHashMap<>();
    private boolean dead;
    private boolean crashed;
    private int nextInode;

    private static final class Inode {
        final int id;
        Path location;
        /** Null when never written through the seam: its content counts as durable. */
        byte[] durable;

        Inode(int id, Path location, byte[] durable) {
            this.id = id;
            this.location = location;
            this.durable = durable;
        }
    }

    private PowerLossFileIo(Path root, long cutAt, long seed) throws IOException {
        this.root = root.toAbsolutePath().normalize();
        this.graveyard = Files.createTempDirectory("power-loss-graveyard");
        this.cutAt = cutAt;
        this.random = new Random(seed);
        this.installation = FileSync.useFileIo(this);
    }

    /**
     * Routes Tally's file writes under {@code root} through a new simulation whose power goes out
     * at step {@code cutAt} (1-based; {@link Long#MAX_VALUE} for never). {@code seed} drives the
     * torn pages of {@link #crash}.
     */
    public static PowerLossFileIo install(Path root, long cutAt, long seed) {
        try {
            return new PowerLossFileIo(root, cutAt, seed);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Steps taken so far (the one that cut the power included). */
    public synchronized int steps() {
        return steps.size();
    }

    /** The steps taken so far, for failure messages. */
    public synchronized List<String> stepLog() {
        return List.copyOf(steps);
    }

    /** Whether the power went out. */
    public synchronized boolean isCut() {
        return dead;
    }

    /**
     * Cuts the power now (if it is still on), puts the files under the root into the state the
     * device had, and restores the real file system. Close every channel first (abandon the
     * objects the way a dead process would, but release their descriptors and locks).
     */
    public synchronized void crash(boolean tear) {
        if (crashed) {
            return;
        }
        crashed = true;
        dead = true;
        try {
            installation.close();
            // 1. Undo names: move every file whose name changed out of the way, then put back the durable ones.
            Set<Inode> involved = new HashSet<>();
            for (Map.Entry<Path, Optional<Inode>> e : durableNames.entrySet()) {
                e.getValue().ifPresent(involved::add);
                Inode now = live.get(e.getKey());
                if (now != null) {
                    involved.add(now);
                }
            }
            for (Inode i : involved) {
                toGrave(i);
            }
            Map<Path, Inode> survivors = new HashMap<>();
            for (Map.Entry<Path, Inode> e : live.entrySet()) {
                if (!durableNames.containsKey(e.getKey())) {
                    survivors.put(e.getKey(), e.getValue());
                }
            }
            for (Map.Entry<Path, Optional<Inode>> e : durableNames.entrySet()) {
                if (e.getValue().isPresent()) {
                    Inode i = e.getValue().get();
                    Files.move(i.location, e.getKey(), StandardCopyOption.ATOMIC_MOVE);
                    i.location = e.getKey();
                    survivors.put(e.getKey(), i);
                }
            }
            // 2. Undo content that was never forced.
            for (Map.Entry<Path, Inode> e : survivors.entrySet()) {
                Inode i = e.getValue();
                if (i.durable == null || !Files.exists(e.getKey(), LinkOption.NOFOLLOW_LINKS)) {
                    continue;
                }
                byte[] now = Files.readAllBytes(e.getKey());
                byte[] out = i.durable;
                if (tear && now.length > out.length && Arrays.equals(now, 0, out.length, out, 0, out.length)) {
                    int room = (int) Math.min(PAGE - (out.length % PAGE), now.length - out.length);
                    int keep = random.nextInt(room + 1);
                    byte[] torn = Arrays.copyOf(out, out.length + keep);
                    if (random.nextBoolean()) {
                        System.arraycopy(now, out.length, torn, out.length, keep); // else zeros
                    }
                    out = torn;
                }
                if (!Arrays.equals(now, out)) {
                    Files.write(e.getKey(), out);
                }
            }
            try (var s = Files.list(graveyard)) {
                for (Path p : (Iterable<Path>) s::iterator) {
                    Files.delete(p);
                }
            }
            Files.delete(graveyard);
        } catch (Exception e) {
            throw new IllegalStateException("power-loss simulation could not apply the crash", e);
        }
    }

    /** Restores the real file system without a crash (everything stays as the page cache has it). */
    public synchronized void uninstall() {
        if (!crashed) {
            crashed = true;
            try {
                installation.close();
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }
    }

    // ---------------------------------------------------------------- FileIo

    @Override
    public synchronized FileChannel open(Path file, OpenOption... options) throws IOException {
        Path p = file.toAbsolutePath().normalize();
        if (!p.startsWith(root)) {
            return FileIo.REAL.open(file, options);
        }
        List<OpenOption> opts = Arrays.asList(options);
        boolean write = opts.contains(StandardOpenOption.WRITE) || opts.contains(StandardOpenOption.APPEND);
        boolean create = write && (opts.contains(StandardOpenOption.CREATE)
                || opts.contains(StandardOpenOption.CREATE_NEW));
        Inode ino = inodeAt(p);
        if (ino == null && create) {
            step("create " + rel(p));
        } else if (write && dead) {
            throw cut("open for writing " + rel(p));
        }
        if (ino != null && write && ino.durable == null) {
            ino.durable = Files.readAllBytes(p); // first tracked write: what is there counts as durable
        }
        if (ino != null && write && opts.contains(StandardOpenOption.TRUNCATE_EXISTING) && Files.size(p) > 0) {
            step("truncate on open " + rel(p));
        }
        FileChannel real = FileChannel.open(p, options);
        if (ino == null && create) {
            nameChanging(p);
            ino = new Inode(nextInode++, p, new byte[0]);
            live.put(p, ino);
        }
        return new SimChannel(real, ino);
    }

    @Override
    public synchronized void move(Path from, Path to, CopyOption... options) throws IOException {
        Path f = from.toAbsolutePath().normalize();
        Path t = to.toAbsolutePath().normalize();
        if (!f.startsWith(root) || !t.startsWith(root)) {
            FileIo.REAL.move(from, to, options);
            return;
        }
        step("rename " + rel(f) + " -> " + rel(t));
        Inode src = inodeAt(f);
        if (src == null) {
            throw new NoSuchFileException(f.toString());
        }
        Inode dst = inodeAt(t);
        if (dst != null && !Arrays.asList(options).contains(StandardCopyOption.REPLACE_EXISTING)) {
            throw new FileAlreadyExistsException(t.toString());
        }
        nameChanging(f);
        nameChanging(t);
        if (dst != null) {
            toGrave(dst);
            live.remove(t);
        }
        Files.move(f, t, StandardCopyOption.ATOMIC_MOVE);
        src.location = t;
        live.remove(f);
        live.put(t, src);
    }

    @Override
    public synchronized void delete(Path file) throws IOException {
        Path p = file.toAbsolutePath().normalize();
        if (!p.startsWith(root)) {
            FileIo.REAL.delete(file);
            return;
        }
        step("delete " + rel(p));
        Inode ino = inodeAt(p);
        if (ino == null) {
            throw new NoSuchFileException(p.toString());
        }
        nameChanging(p);
        toGrave(ino); // kept so a crash before the directory fsync can bring it back
        live.remove(p);
    }

    @Override
    public synchronized void forceDirectory(Path dir) throws IOException {
        Path d = dir.toAbsolutePath().normalize();
        if (!d.startsWith(root)) {
            FileIo.REAL.forceDirectory(dir);
            return;
        }
        step("fsync directory " + rel(d));
        durableNames.keySet().removeIf(p -> p.getParent().equals(d));
    }

    // ---------------------------------------------------------------- internals (monitor held)

    private void step(String what) throws PowerCut {
        if (dead) {
            throw cut(what);
        }
        steps.add(what);
        if (steps.size() >= cutAt) {
            dead = true;
            throw new PowerCut("power cut at step " + steps.size() + ": " + what);
        }
    }

    private PowerCut cut(String what) {
        return new PowerCut("the power is off (" + what + ")");
    }

    private String rel(Path p) {
        return root.relativize(p).toString();
    }

    /** The file now at {@code p}, adopting one the simulation has not seen; null if none. */
    private Inode inodeAt(Path p) {
        Inode i = live.get(p);
        if (i != null && !Files.exists(p, LinkOption.NOFOLLOW_LINKS)) {
            live.remove(p); // removed behind the seam's back
            i = null;
        }
        if (i == null && Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) {
            i = new Inode(nextInode++, p, null);
            live.put(p, i);
        }
        return i;
    }

    /** Remembers what the device has at {@code p} before the name changes, unless already changed. */
    private void nameChanging(Path p) {
        if (!durableNames.containsKey(p)) {
            durableNames.put(p, Optional.ofNullable(live.get(p)));
        }
    }

    private void toGrave(Inode i) throws IOException {
        Path g = graveyard.resolve("inode-" + i.id);
        if (!i.location.equals(g) && Files.exists(i.location, LinkOption.NOFOLLOW_LINKS)) {
            Files.move(i.location, g, StandardCopyOption.ATOMIC_MOVE);
            i.location = g;
        }
    }

    private synchronized void beforeWrite(Inode ino, String what) throws PowerCut {
        step(what + " " + (ino == null ? "?" : rel(ino.location.startsWith(root) ? ino.location : root)));
    }

    private synchronized void force(Inode ino) throws IOException {
        step("force " + (ino == null ? "?" : ino.location.getFileName()));
        if (ino != null && ino.durable != null) {
            ino.durable = Files.readAllBytes(ino.location);
        }
    }

    /** A real channel whose writes are steps and whose force() records the durable content. */
    private final class SimChannel extends FileChannel {
        private final FileChannel real;
        private final Inode ino;

        SimChannel(FileChannel real, Inode ino) {
            this.real = real;
            this.ino = ino;
        }

        @Override
        public int read(ByteBuffer dst) throws IOException {
            return real.read(dst);
        }

        @Override
        public long read(ByteBuffer[] dsts, int offset, int length) throws IOException {
            return real.read(dsts, offset, length);
        }

        @Override
        public int write(ByteBuffer src) throws IOException {
            beforeWrite(ino, "write");
            return real.write(src);
        }

        @Override
        public long write(ByteBuffer[] srcs, int offset, int length) throws IOException {
            beforeWrite(ino, "write");
            return real.write(srcs, offset, length);
        }

        @Override
        public long position() throws IOException {
            return real.position();
        }

        @Override
        public FileChannel position(long newPosition) throws IOException {
            real.position(newPosition);
            return this;
        }

        @Override
        public long size() throws IOException {
            return real.size();
        }

        @Override
        public FileChannel truncate(long size) throws IOException {
            beforeWrite(ino, "truncate");
            real.truncate(size);
            return this;
        }

        @Override
        public void force(boolean metaData) throws IOException {
            PowerLossFileIo.this.force(ino);
            real.force(metaData);
        }

        @Override
        public long transferTo(long position, long count, WritableByteChannel target) throws IOException {
            return real.transferTo(position, count, target);
        }

        @Override
        public long transferFrom(ReadableByteChannel src, long position, long count) throws IOException {
            beforeWrite(ino, "write");
            return real.transferFrom(src, position, count);
        }

        @Override
        public int read(ByteBuffer dst, long position) throws IOException {
            return real.read(dst, position);
        }

        @Override
        public int write(ByteBuffer src, long position) throws IOException {
            beforeWrite(ino, "write");
            return real.write(src, position);
        }

        @Override
        public MappedByteBuffer map(MapMode mode, long position, long size) {
            throw new UnsupportedOperationException("the power-loss simulation does not map files");
        }

        @Override
        public FileLock lock(long position, long size, boolean shared) throws IOException {
            return real.lock(position, size, shared);
        }

        @Override
        public FileLock tryLock(long position, long size, boolean shared) throws IOException {
            return real.tryLock(position, size, shared);
        }

        @Override
        protected void implCloseChannel() throws IOException {
            real.close();
        }
    }
}
