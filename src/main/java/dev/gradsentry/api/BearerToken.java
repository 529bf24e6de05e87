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
import java.security.MessageDigest;
import java.util.Optional;
import java.util.Set;

/**
 * Guards every mutating request under {@code /api} with a bearer token; reads stay open, as do {@code /q/metrics}
 * and {@code /q/health}. Without a configured token nothing may mutate: there is no default that silently opens
 * the service. The token is compared in constant time and never logged.
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

    static Optional<String> load(GradSentryConfig config) {
        Optional<String> direct = config.apiToken().map(String::strip).filter(t -> !t.isEmpty());
        if (direct.isPresent() || config.apiTokenFile().isEmpty()) {
            return direct;
        }
        try {
            String fromFile = Files.readString(config.apiTokenFile().get()).strip();
            if (fromFile.isEmpty()) {
                throw new InvalidConfigException("gradsentry.api-token-file",
                        "the file " + config.apiTokenFile().get() + " is empty");
            }
            return Optional.of(fromFile);
        } catch (IOException e) {
            throw new InvalidConfigException("gradsentry.api-token-file",
                    "cannot read " + config.apiTokenFile().get() + " (" + e.getClass().getSimpleName() + ")");
        }
    }

    public boolean configured() {
        return token() != null;
    }

    private void check(RoutingContext context) {
        if (!MUTATING.contains(context.request().method().name()) || !context.normalizedPath().startsWith("/api/")) {
            context.next();
            return;
        }
        byte[] token = token();
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
            unauthorized(context, "the bearer token is wrong");
            return;
        }
        context.next();
    }

    private void unauthorized(RoutingContext context, String detail) {
        context.response().putHeader("WWW-Authenticate", "Bearer realm=\"gradsentry\"");
        Problem.send(context, json, 401, "Unauthorized", detail, "Authorization");
    }
}
