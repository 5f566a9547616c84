package dev.tally.store.internal;

import dev.tally.store.StoreException;
import java.nio.file.Path;

/** The manifest cannot be trusted; the store refuses to open rather than guess what it held. */
public final class ManifestDamagedException extends StoreException {
    private static final long serialVersionUID = 1L;

    public ManifestDamagedException(Path file, String why) {
        super("manifest " + file + " is damaged: " + why
                + ". Nothing was changed. Rebuild it from the archive with: usage-worker repair manifest");
    }
}
