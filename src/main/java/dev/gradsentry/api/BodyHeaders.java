package dev.gradsentry.api;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.gradsentry.config.GradSentryConfig;
import io.vertx.core.http.HttpHeaders;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;

/**
 * Checks the headers that announce a body under {@code /api}, before a byte of it is read: a declared length over the
 * limit is a 413 and a body without a content type a 415, each with a problem body. It runs as a Vert.x route
 * ({@link FrontRoute#BODY_HEADERS}) ahead of Quarkus' own upload limit ({@code quarkus.http.limits.max-body-size}),
 * which answers with an empty 413, and of Quarkus REST, which would take a body without a content type as JSON. A body
 * without a declared length (chunked, HTTP/2) is held to the same limit by {@link JsonBody} while it is read.
 */
@ApplicationScoped
public class BodyHeaders {

    /** Run and policy bodies are a few hundred bytes; 64 KiB leaves room without letting anyone fill the heap. */
    static final int MAX_API_BODY_BYTES = 64 * 1024;

    private final GradSentryConfig config;
    private final ObjectMapper json;

    public BodyHeaders(GradSentryConfig config, ObjectMapper json) {
        this.config = config;
        this.json = json;
    }

    void install(@Observes Router router) {
        router.route("/api/*").order(FrontRoute.BODY_HEADERS.order()).handler(this::check);
    }

    private void check(RoutingContext context) {
        String length = context.request().getHeader(HttpHeaders.CONTENT_LENGTH);
        boolean chunked = context.request().getHeader(HttpHeaders.TRANSFER_ENCODING) != null;
        if (context.request().getHeader(HttpHeaders.CONTENT_TYPE) == null && (chunked
                || length != null && !length.strip().equals("0"))) {
            refuse(context, 415, "Unsupported Media Type", "the body has no content type; " + (upload(
                    context.normalizedPath()) ? "send the file with 'Content-Type: application/octet-stream'"
                    : "send it as JSON with 'Content-Type: application/json'"), "Content-Type");
            return;
        }
        if (length == null) {
            context.next(); // chunked or HTTP/2: JsonBody checks the size as the body arrives
            return;
        }
        long bytes;
        try {
            bytes = Long.parseLong(length.strip());
        } catch (NumberFormatException e) {
            refuse(context, 400, "Bad Request", "Content-Length must be a number of bytes", "Content-Length");
            return;
        }
        String path = context.normalizedPath();
        if (bytes > limit(path)) {
            refuse(context, 413, "Payload Too Large", tooLarge(path, bytes), ProblemMappers.BODY);
            return;
        }
        context.next();
    }

    /** Whether the path is an upload's, whose body is a file of any kind rather than JSON. */
    static boolean upload(String path) {
        return path.startsWith(UserFileResource.PATH + "/");
    }

    /** The largest body a path under {@code /api} takes. */
    int limit(String path) {
        return path.startsWith("/api/alerts/") ? config.alerts().maxBodyBytes()
                : upload(path) ? config.upload().maxMib() * 1024 * 1024 : MAX_API_BODY_BYTES;
    }

    String tooLarge(String path, long bytes) {
        int limit = limit(path);
        return "the body has " + bytes + " bytes, more than " + (path.startsWith("/api/alerts/")
                ? "gradsentry.alerts.max-body-bytes (" + limit + ")" : upload(path) ? "gradsentry.upload.max-mib ("
                + config.upload().maxMib() + " MiB, " + limit + " bytes); raise it or put the file into the user "
                + "directory yourself" : "the " + limit + " bytes this endpoint takes");
    }

    private void refuse(RoutingContext context, int status, String title, String detail, String field) {
        Problem.send(context, json, status, title, detail, field);
    }
}
