package dev.gradsentry.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.ext.web.RoutingContext;
import jakarta.ws.rs.core.Response;

/**
 * An RFC 9457 problem detail: what went wrong and how to fix it, never a stack trace.
 *
 * @param field the request or config field at fault, when one is
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record Problem(String type, String title, int status, String detail, String field) {

    public static final String MEDIA_TYPE = "application/problem+json";

    public static Response response(Response.Status status, String detail, String field) {
        return response(status.getStatusCode(), status.getReasonPhrase(), detail, field);
    }

    public static Response response(int status, String title, String detail, String field) {
        return Response.status(status)
                .type(MEDIA_TYPE)
                .entity(new Problem("about:blank", title, status, detail, field))
                .build();
    }

    /**
     * Answers from a Vert.x route, before Quarkus REST has the request, and closes the connection: the body may be
     * unread, so the connection cannot carry another request.
     */
    /** How long the rest of an unread body is read and dropped before the connection is closed anyway. */
    static final long DRAIN_MILLIS = 2000;

    static void send(RoutingContext context, ObjectMapper json, int status, String title, String detail,
                     String field) {
        String body;
        try {
            body = json.writeValueAsString(new Problem("about:blank", title, status, detail, field));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("a Problem always serialises", e);
        }
        HttpServerResponse response = context.response();
        if (response.ended() || response.closed()) {
            return;
        }
        response.setStatusCode(status)
                .putHeader(HttpHeaders.CONTENT_TYPE, MEDIA_TYPE)
                .putHeader(HttpHeaders.CONNECTION, "close")
                .end(body)
                .onComplete(done -> closeAfterDraining(context));
    }

    /**
     * Closing a socket whose request bytes were not all read makes the kernel reset the connection, and a client still
     * sending its body (an oversized one, say) then loses the answer it was sent: seen as "header parser received no
     * bytes" in a 413 test. So the rest of the body is read and dropped, and the connection closed when it ends, or
     * after {@value #DRAIN_MILLIS} ms for a client that stalls.
     */
    private static void closeAfterDraining(RoutingContext context) {
        HttpServerRequest request = context.request();
        if (request.isEnded()) {
            request.connection().close();
            return;
        }
        long timer = context.vertx().setTimer(DRAIN_MILLIS, t -> request.connection().close());
        request.handler(ignored -> {
        });
        request.endHandler(ended -> {
            context.vertx().cancelTimer(timer);
            request.connection().close();
        });
        request.resume();
    }
}
