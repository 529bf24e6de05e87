package dev.gradsentry.api;

import io.quarkus.vertx.http.runtime.RouteConstants;

/**
 * The Vert.x routes that look at a request before Quarkus REST does, in the order they run: each can answer with a
 * problem and close the connection before a worker thread is taken or a byte of the body is read. All run ahead of
 * Quarkus' own upload limit ({@link RouteConstants#ROUTE_ORDER_UPLOAD_LIMIT}), which answers with empty bodies.
 */
enum FrontRoute {
    /** {@link RequestLine}: a request line over 4 KB is a 414. */
    REQUEST_LINE,
    /** {@link BearerToken}: a mutation without the token is a 401, whatever body it announces. */
    TOKEN,
    /** {@link BodyHeaders}: a declared length over the limit is a 413, a body without a content type a 415. */
    BODY_HEADERS,
    /** {@link JsonBody}: the body is read without blocking, within a deadline, a size limit and a cap on reads. */
    BODY;

    int order() {
        return RouteConstants.ROUTE_ORDER_UPLOAD_LIMIT - values().length + ordinal();
    }
}
