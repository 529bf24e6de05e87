package dev.gradsentry.api;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.gradsentry.config.GradSentryConfig;
import io.vertx.core.http.HttpHeaders;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Provider;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.Optional;
import java.util.Set;

/**
 * Guards every mutating request under {@code /api} with a bearer token; reads stay open, as do {@code /q/metrics}
 * and {@code /q/health}. Without a configured token nothing may mutate: there is no default that silently opens
 * the service. Uploads ({@code /api/files/}) take the upload token ({@code gradsentry.upload.token}) instead of the
 * API token, and without one they are refused (403). A token is compared in constant time and never logged.
 *
 * <p>It is a Vert.x route ({@link FrontRoute#TOKEN}), not a JAX-RS filter: it sees the headers before any byte of the
 * body is read, so a client without the token cannot hold a connection open by announcing a body and never sending
 * it. The refusal closes the connection.
 */
@ApplicationScoped
public class BearerToken {

    private static final Set<String> MUTATING = Set.of("POST", "PUT", "DELETE", "PATCH");

    private final Provider<GradSentryConfig> config;
    private final ObjectMapper json;
    private volatile Optional<byte[]> token;
    private volatile Optional<byte[]> uploadToken;

    /** The config is read on first use, by the startup checks or the first request. */
    public BearerToken(Provider<GradSentryConfig> config, ObjectMapper json) {
        this.config = config;
        this.json = json;
    }

    void install(@Observes Router router) {
        router.route("/api/*").order(FrontRoute.TOKEN.order()).handler(this::check);
    }

    private byte[] token() {
        Optional<byte[]> t = token;
        if (t == null) {
            t = load(config.get()).map(s -> s.getBytes(StandardCharsets.UTF_8));
            token = t;
        }
        return t.orElse(null);
    }

    private byte[] uploadToken() {
        Optional<byte[]> t = uploadToken;
        if (t == null) {
            GradSentryConfig.Upload upload = config.get().upload();
            t = load(upload.token(), upload.tokenFile(), "gradsentry.upload.token-file")
                    .map(s -> s.getBytes(StandardCharsets.UTF_8));
            uploadToken = t;
        }
        return t.orElse(null);
    }

    static Optional<String> load(GradSentryConfig config) {
        return load(config.apiToken(), config.apiTokenFile(), "gradsentry.api-token-file");
    }

    private static Optional<String> load(Optional<String> token, Optional<Path> file, String fileKey) {
        Optional<String> direct = token.map(String::strip).filter(t -> !t.isEmpty());
        if (direct.isPresent() || file.isEmpty()) {
            return direct;
        }
        try {
            String fromFile = Files.readString(file.get()).strip();
            if (fromFile.isEmpty()) {
                throw new InvalidConfigException(fileKey, "the file " + file.get() + " is empty");
            }
            return Optional.of(fromFile);
        } catch (IOException e) {
            throw new InvalidConfigException(fileKey, "cannot read " + file.get() + " (" + e.getClass()
                    .getSimpleName() + ")");
        }
    }

    public boolean configured() {
        return token() != null;
    }

    public boolean uploadConfigured() {
        return uploadToken() != null;
    }

    private void check(RoutingContext context) {
        if (!MUTATING.contains(context.request().method().name()) || !context.normalizedPath().startsWith("/api/")) {
            context.next();
            return;
        }
        boolean upload = context.normalizedPath().startsWith(UserFileResource.PATH + "/");
        byte[] token = upload ? uploadToken() : token();
        if (token == null && upload) {
            Problem.send(context, json, 403, "Forbidden", "uploads are disabled: no upload token is configured; set "
                    + "GRADSENTRY_UPLOAD_TOKEN (or gradsentry.upload.token, or gradsentry.upload.token-file) and send "
                    + "it as 'Authorization: Bearer <token>', or put the files into the user directory yourself",
                    "Authorization");
            return;
        }
        if (token == null) {
            unauthorized(context, "changes are disabled: no API token is configured; set GRADSENTRY_API_TOKEN (or "
                    + "gradsentry.api-token, or gradsentry.api-token-file) and send it as 'Authorization: Bearer "
                    + "<token>'");
            return;
        }
        String header = context.request().getHeader(HttpHeaders.AUTHORIZATION);
        if (header == null || !header.regionMatches(true, 0, "Bearer ", 0, 7)) {
            unauthorized(context, "this request changes state and needs 'Authorization: Bearer <token>'");
            return;
        }
        byte[] given = header.substring(7).strip().getBytes(StandardCharsets.UTF_8);
        if (!MessageDigest.isEqual(token, given)) {
            unauthorized(context, upload ? "the bearer token is wrong: an upload takes the upload token "
                    + "(gradsentry.upload.token), not the API token" : "the bearer token is wrong");
            return;
        }
        context.next();
    }

    private void unauthorized(RoutingContext context, String detail) {
        context.response().putHeader("WWW-Authenticate", "Bearer realm=\"gradsentry\"");
        Problem.send(context, json, 401, "Unauthorized", detail, "Authorization");
    }
}
