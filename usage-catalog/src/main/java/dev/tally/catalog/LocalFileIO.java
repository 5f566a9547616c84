package dev.tally.catalog;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.apache.iceberg.io.FileIO;
import org.apache.iceberg.io.InputFile;
import org.apache.iceberg.io.OutputFile;
import org.apache.iceberg.io.PositionOutputStream;

/**
 * Iceberg file I/O on the local file system (or any shared mount), so the catalog needs no Hadoop.
 * Accepts {@code file:} URIs and plain absolute paths. Writes go through Iceberg's local output
 * files (new metadata, manifest and manifest-list files only; Iceberg never rewrites a file it
 * wrote); the catalog's atomic pointer swap in the database is the commit point, so a metadata
 * file left by a crash before that swap is unreferenced, never half-read.
 *
 * <p>Thread-safe: stateless apart from the crash seam, which is set once at construction.
 */
public final class LocalFileIO implements FileIO {
    private static final long serialVersionUID = 1L;
    private final transient CatalogCrashPoint crash;

    /** For Iceberg's reflective loading ({@code io-impl}); no crash seam. */
    public LocalFileIO() {
        this(CatalogCrashPoint.NONE);
    }

    LocalFileIO(CatalogCrashPoint crash) {
        this.crash = crash == null ? CatalogCrashPoint.NONE : crash;
    }

    /** The local path of {@code location}: a {@code file:} URI or an absolute path. */
    static Path toPath(String location) {
        if (location.startsWith("file:")) {
            return Path.of(URI.create(location));
        }
        Path p = Path.of(location);
        if (!p.isAbsolute()) {
            throw new IllegalArgumentException("not an absolute path or file: URI: " + location);
        }
        return p;
    }

    @Override
    public InputFile newInputFile(String path) {
        return new Located(org.apache.iceberg.Files.localInput(toPath(path).toFile()), path);
    }

    @Override
    public OutputFile newOutputFile(String path) {
        OutputFile out = org.apache.iceberg.Files.localOutput(toPath(path).toFile());
        return new OutputFile() {
            @Override
            public PositionOutputStream create() {
                return watch(out.create());
            }

            @Override
            public PositionOutputStream createOrOverwrite() {
                return watch(out.createOrOverwrite());
            }

            @Override
            public String location() {
                return path;
            }

            @Override
            public InputFile toInputFile() {
                return newInputFile(path);
            }

            private PositionOutputStream watch(PositionOutputStream s) {
                if (!path.endsWith(".metadata.json")) {
                    return s;
                }
                return new PositionOutputStream() {
                    @Override
                    public long getPos() throws IOException {
                        return s.getPos();
                    }

                    @Override
                    public void write(int b) throws IOException {
                        s.write(b);
                    }

                    @Override
                    public void write(byte[] b, int off, int len) throws IOException {
                        s.write(b, off, len);
                    }

                    @Override
                    public void flush() throws IOException {
                        s.flush();
                    }

                    @Override
                    public void close() throws IOException {
                        s.close();
                        crash.at(CatalogCrashPoint.METADATA_WRITTEN);
                    }
                };
            }
        };
    }

    @Override
    public void deleteFile(String path) {
        try {
            Files.deleteIfExists(toPath(path));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot delete " + path, e);
        }
    }

    @Override
    public Map<String, String> properties() {
        return Map.of();
    }

    /** An input file that reports the location it was asked for (a URI stays a URI). */
    private record Located(InputFile file, String location) implements InputFile {
        @Override
        public long getLength() {
            return file.getLength();
        }

        @Override
        public org.apache.iceberg.io.SeekableInputStream newStream() {
            return file.newStream();
        }

        @Override
        public boolean exists() {
            return file.exists();
        }
    }
}
