package dev.gradsentry.training;

import dev.gradsentry.core.InvalidSettingException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;

/**
 * The user directory ({@code gradsentry.user-dir}, a mounted volume in the container): every model and data path a
 * run names is read from under it, and a path that leaves it, directly, through {@code ..} or through a symbolic
 * link, is refused. A run names paths relative to it; an absolute path is accepted when it lies under it.
 *
 * @param root the user directory; null when {@code gradsentry.user-dir} is not set
 */
public record UserFiles(Path root) {

    /** The configuration key that sets {@link #root}, named in the messages that ask for it. */
    public static final String KEY = "gradsentry.user-dir";

    /** The existing regular file {@code path} names, for the run field {@code field}. */
    public Path file(String field, String path) {
        Path p = resolve(field, path);
        if (!Files.isRegularFile(p)) {
            throw new InvalidSettingException(field, field + " '" + path + "' is "
                    + (Files.isDirectory(p) ? "a directory, not a file" : "missing") + " (looked for " + p + ")"
                    + where());
        }
        return p;
    }

    /** The existing directory {@code path} names, for the run field {@code field}. */
    public Path directory(String field, String path) {
        Path p = resolve(field, path);
        if (!Files.isDirectory(p)) {
            throw new InvalidSettingException(field, field + " '" + path + "' is "
                    + (Files.exists(p) ? "a file, not a directory of sequence files" : "missing") + " (looked for " + p
                    + ")" + where());
        }
        return p;
    }

    /**
     * Writes {@code content} to the file {@code path} names, creating its directories, atomically ({@link
     * AtomicFile}): a run reading the file at the same time sees the old content or the new, never a part. A new
     * file's nearest existing directory must lie inside the user directory too (a link inside that points outside is
     * refused as for reading).
     *
     * @return whether a file was replaced (false: a new file)
     * @throws IOException when the user directory cannot be written (a read-only volume, a full disk)
     */
    public boolean write(String field, String path, byte[] content) throws IOException {
        Path p = resolve(field, path);
        Path base = root.toAbsolutePath().normalize();
        if (p.equals(base) || Files.isDirectory(p)) {
            throw new InvalidSettingException(field, field + " '" + path + "' is a directory; name a file, such as "
                    + "data/train.csv");
        }
        if (p.getFileName().toString().startsWith(".")) {
            // AtomicFile's temporary files are hidden, and a sequence directory's reader skips hidden files.
            throw new InvalidSettingException(field, field + " '" + path + "' names a hidden file; give a file "
                    + "name that does not start with '.'");
        }
        Files.createDirectories(base);
        Path existing = p.getParent();
        while (!Files.exists(existing)) {
            existing = existing.getParent();
        }
        if (!existing.toRealPath().startsWith(base.toRealPath())) {
            throw outside(field, path);
        }
        boolean replaced = Files.exists(p);
        AtomicFile.replace(p, content);
        return replaced;
    }

    private String where() {
        return "; put it under " + root + ", the user directory (" + KEY + ")";
    }

    private Path resolve(String field, String path) {
        if (root == null) {
            throw new InvalidSettingException(field, field + " needs the user directory: set " + KEY + " (environment "
                    + "GRADSENTRY_USER_DIR) to the directory holding your model and data");
        }
        Path base = root.toAbsolutePath().normalize();
        Path p;
        try {
            p = base.resolve(path).normalize();
        } catch (InvalidPathException e) {
            throw new InvalidSettingException(field, field + " '" + path + "' is not a path: " + e.getReason());
        }
        if (!p.startsWith(base)) {
            throw outside(field, path);
        }
        try {
            // A link inside that points outside is refused like the path it points to.
            if (Files.exists(p) && !p.toRealPath().startsWith(base.toRealPath())) {
                throw outside(field, path);
            }
        } catch (IOException e) {
            throw new InvalidSettingException(field, field + " '" + path + "' cannot be read: " + e.getMessage());
        }
        return p;
    }

    private InvalidSettingException outside(String field, String path) {
        return new InvalidSettingException(field, field + " '" + path + "' is outside the user directory " + root
                + " (" + KEY + "); give a path under it, relative to it");
    }
}
