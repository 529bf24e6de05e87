package dev.gradsentry.api;

import dev.gradsentry.config.GradSentryConfig;
import dev.gradsentry.training.UserFiles;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.PUT;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.core.UriInfo;

import java.io.IOException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * Files in the user directory ({@code gradsentry.user-dir}), for a user who cannot mount a volume: {@code PUT
 * /api/files/{path}} writes a model or data file that a run then names by the same path. Size-limited
 * ({@code gradsentry.upload.max-mib}, 413), protected by its own token ({@code gradsentry.upload.token}; 401 without it,
 * 403 when none is configured, both by {@link BearerToken} before the body is read), confined to the user directory
 * by the same rule as a run's paths (400 naming {@code path}), and written atomically.
 */
@Path(UserFileResource.PATH)
public class UserFileResource {

    static final String PATH = "/api/files";
    private static final String FIELD = "path";

    private final UserFiles files;

    public UserFileResource(GradSentryConfig config) {
        this.files = new UserFiles(config.userDir());
    }

    /** What was written: the path as a run names it, its size, and its SHA-256 to compare with the local file. */
    public record Written(String path, long bytes, String sha256) {
    }

    @PUT
    @Path("{path: .+}")
    @Consumes(MediaType.WILDCARD)
    @Produces(MediaType.APPLICATION_JSON)
    public Response put(@PathParam("path") String path, byte[] body, @Context UriInfo uri) {
        byte[] content = body == null ? new byte[0] : body;
        boolean replaced;
        try {
            replaced = files.write(FIELD, path, content);
        } catch (IOException e) {
            throw new ProblemMappers.ConflictProblem("'" + path + "' cannot be written to the user directory ("
                    + e.getClass().getSimpleName() + ": " + e.getMessage() + "); mount it writable (without :ro) "
                    + "and with room, or put the file there yourself");
        }
        Written written = new Written(path, content.length, sha256(content));
        return (replaced ? Response.ok() : Response.created(uri.getAbsolutePath())).entity(written).build();
    }

    private static String sha256(byte[] content) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(content));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JVM has SHA-256", e);
        }
    }
}
