package dev.tally.store.ingest;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * One configured spool directory. Its {@code name} is part of every source name
 * ({@code spool:<name>/<relative file name>}) and so of every committed import position: keep it
 * stable. Naming directories by their index ({@link #indexed}) ties the positions to the order of
 * the configuration; prefer explicit names.
 *
 * <p>Immutable and thread-safe.
 *
 * @param name {@code [A-Za-z0-9][A-Za-z0-9._-]*}, at most 64 characters
 * @param root the directory; spool files are looked for below it
 */
public record SpoolDirectory(String name, Path root) {
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,63}");

    public SpoolDirectory {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(root, "root");
        if (!NAME.matcher(name).matches()) {
            throw new IllegalArgumentException("spool directory name '" + name.replaceAll("\\p{Cntrl}", "?")
                    + "' must match " + NAME.pattern());
        }
        root = root.toAbsolutePath().normalize();
    }

    /** Directories named {@code 0}, {@code 1}, … in the given order. */
    public static List<SpoolDirectory> indexed(List<Path> roots) {
        List<SpoolDirectory> out = new ArrayList<>(roots.size());
        for (int i = 0; i < roots.size(); i++) {
            out.add(new SpoolDirectory(Integer.toString(i), roots.get(i)));
        }
        return List.copyOf(out);
    }
}
