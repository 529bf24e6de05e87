package dev.gradsentry.api;

import dev.gradsentry.config.GradSentryConfig;
import jakarta.inject.Provider;
import jakarta.inject.Singleton;
import jakarta.ws.rs.container.ContainerRequestContext;
import jakarta.ws.rs.core.HttpHeaders;
import jakarta.ws.rs.core.Response;
import org.jboss.resteasy.reactive.server.ServerRequestFilter;

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
 */
@Singleton
public class BearerToken {

    private static final Set<String> MUTATING = Set.of("POST", "PUT", "DELETE", "PATCH");

    private final Provider<GradSentryConfig> config;
    private volatile Optional<byte[]> token;

    /** The config is read on first use: filters are built before runtime configuration exists. */
    public BearerToken(Provider<GradSentryConfig> config) {
        this.config = config;
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

    @ServerRequestFilter
    public Optional<Response> check(ContainerRequestContext request) {
        if (!MUTATING.contains(request.getMethod()) || !request.getUriInfo().getPath().startsWith("/api/")) {
            return Optional.empty();
        }
        byte[] token = token();
        if (token == null) {
            return Optional.of(unauthorized("changes are disabled: no API token is configured; set "
                    + "GRADSENTRY_API_TOKEN (or gradsentry.api-token, or gradsentry.api-token-file) and send it as "
                    + "'Authorization: Bearer <token>'"));
        }
        String header = request.getHeaderString(HttpHeaders.AUTHORIZATION);
        if (header == null || !header.regionMatches(true, 0, "Bearer ", 0, 7)) {
            return Optional.of(unauthorized("this request changes state and needs 'Authorization: Bearer <token>'"));
        }
        byte[] given = header.substring(7).strip().getBytes(StandardCharsets.UTF_8);
        if (!MessageDigest.isEqual(token, given)) {
            return Optional.of(unauthorized("the bearer token is wrong"));
        }
        return Optional.empty();
    }

    private static Response unauthorized(String detail) {
        Response problem = Problem.response(Response.Status.UNAUTHORIZED, detail, "Authorization");
        return Response.fromResponse(problem).header(HttpHeaders.WWW_AUTHENTICATE, "Bearer realm=\"gradsentry\"")
                .build();
    }
}
