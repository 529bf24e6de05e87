package dev.gradsentry.api;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;

/**
 * A request line over {@link #MAX_BYTES} is a 414 problem. Vert.x's own decoder answers an over-long line with a bare
 * 414 and no body, so its limit ({@code quarkus.http.limits.max-initial-line-length} in application.properties) is set
 * well above this one and this route answers first; only a line over the decoder's limit still gets the bare 414.
 */
@ApplicationScoped
public class RequestLine {

    /** What Vert.x allows by default; no GradSentry URL comes near it. */
    static final int MAX_BYTES = 4096;

    private final ObjectMapper json;

    public RequestLine(ObjectMapper json) {
        this.json = json;
    }

    void install(@Observes Router router) {
        router.route().order(FrontRoute.REQUEST_LINE.order()).handler(this::check);
    }

    private void check(RoutingContext context) {
        var request = context.request();
        // "GET /path?query HTTP/1.1": method, space, target, space, version.
        int length = request.method().name().length() + 1 + request.uri().length() + 1
                + request.version().alpnName().length();
        if (length > MAX_BYTES) {
            Problem.send(context, json, 414, "URI Too Long", "the request line has " + length + " bytes, more than "
                    + "the " + MAX_BYTES + " this service takes; send long input in a body", "uri");
            return;
        }
        context.next();
    }
}
