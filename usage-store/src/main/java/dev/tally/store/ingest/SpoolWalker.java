package dev.tally.store.ingest;

import dev.tally.store.io.FileSync;
import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.FileVisitor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Finds the spool files of a directory by the rules {@link SpoolScanner} documents under
 * "Hostile directories": no symbolic link followed, hidden and control-character names ignored,
 * every path checked to stay inside its directory, at most {@value SpoolScanner#MAX_DEPTH} levels
 * deep. Reads directories only, never a file.
 *
 * <p>Stateless and thread-safe; holds no lock. Logs under the scanner's name, whose behaviour it is.
 */
final class SpoolWalker {
    private static final Logger LOG = LoggerFactory.getLogger(SpoolScanner.class);

    private SpoolWalker() {
    }

    /** The spool files of one directory, never through a link, each checked to stay inside it. */
    static List<SpoolScanner.Listed> list(SpoolDirectory dir) {
        List<SpoolScanner.Listed> out = new ArrayList<>();
        Path root;
        try {
            root = dir.root().toRealPath();
        } catch (IOException e) {
            LOG.warn("spool directory {} ({}) cannot be read: {}", dir.name(), dir.root(), e.toString());
            return out;
        }
        if (!Files.isDirectory(root)) {
            LOG.warn("spool directory {} ({}) is not a directory", dir.name(), dir.root());
            return out;
        }
        try {
            Files.walkFileTree(root, EnumSet.noneOf(java.nio.file.FileVisitOption.class), SpoolScanner.MAX_DEPTH + 1,
                    new FileVisitor<Path>() {
                        @Override
                        public FileVisitResult preVisitDirectory(Path d, BasicFileAttributes attrs) {
                            if (d.equals(root)) {
                                return FileVisitResult.CONTINUE;
                            }
                            String name = d.getFileName().toString();
                            return attrs.isSymbolicLink() || ignoredName(name)
                                    ? FileVisitResult.SKIP_SUBTREE : FileVisitResult.CONTINUE;
                        }

                        @Override
                        public FileVisitResult visitFile(Path f, BasicFileAttributes attrs) {
                            String name = f.getFileName().toString();
                            if (attrs.isSymbolicLink() || !attrs.isRegularFile() || ignoredName(name)
                                    || !name.endsWith(SpoolScanner.SPOOL_SUFFIX)) {
                                if (attrs.isSymbolicLink() && name.endsWith(SpoolScanner.SPOOL_SUFFIX)) {
                                    LOG.debug("spool directory {}: ignoring symbolic link {}", dir.name(), f);
                                }
                                return FileVisitResult.CONTINUE;
                            }
                            String rel = relativeName(root, f);
                            if (rel == null) {
                                LOG.warn("spool directory {}: ignoring {}, whose path leaves the directory or "
                                        + "has a control character", dir.name(), printable(f.toString()));
                                return FileVisitResult.CONTINUE;
                            }
                            out.add(new SpoolScanner.Listed(dir, rel, f, SpoolScanner.sourceName(dir, rel)));
                            return FileVisitResult.CONTINUE;
                        }

                        @Override
                        public FileVisitResult visitFileFailed(Path f, IOException e) {
                            LOG.warn("spool directory {}: cannot read {}: {}", dir.name(), printable(f.toString()),
                                    e.toString());
                            return FileVisitResult.CONTINUE;
                        }

                        @Override
                        public FileVisitResult postVisitDirectory(Path d, IOException e) {
                            if (e != null) {
                                LOG.warn("spool directory {}: cannot list {}: {}", dir.name(), d, e.toString());
                            }
                            return FileVisitResult.CONTINUE;
                        }
                    });
        } catch (IOException e) {
            LOG.warn("spool directory {} ({}) cannot be walked: {}", dir.name(), dir.root(), e.toString());
        }
        return out;
    }

    private static boolean ignoredName(String name) {
        return name.startsWith(SpoolScanner.HIDDEN_PREFIX) || hasControl(name);
    }

    private static boolean hasControl(String s) {
        for (int i = 0; i < s.length(); i++) {
            char ch = s.charAt(i);
            if (ch < 0x20 || ch == 0x7f || (ch >= 0x80 && ch < 0xa0)) {
                return true;
            }
        }
        return false;
    }

    /** The '/'-separated name of {@code file} below {@code root}, or null when it is not safe. */
    private static String relativeName(Path root, Path file) {
        Path rel = root.relativize(file);
        List<String> parts = new ArrayList<>();
        for (Path p : rel) {
            String s = p.toString();
            if (s.isEmpty() || s.equals(".") || s.equals("..") || hasControl(s) || s.contains("/")) {
                return null;
            }
            parts.add(s);
        }
        String name = String.join("/", parts);
        try {
            Path resolved = FileSync.resolveInside(root, name);
            if (!resolved.equals(file.toAbsolutePath().normalize())) {
                return null;
            }
        } catch (IllegalArgumentException e) {
            return null;
        }
        return name;
    }

    private static String printable(String s) {
        return s.replaceAll("[\\p{Cntrl}\\u0080-\\u009f]", "?");
    }
}
