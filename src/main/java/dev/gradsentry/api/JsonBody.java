package dev.gradsentry.api;

import jakarta.ws.rs.container.ContainerRequestContext;
import jakarta.ws.rs.core.Response;
import org.jboss.resteasy.reactive.server.ServerRequestFilter;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Optional;

/**
 * What every request body under {@code /api} must be before it is parsed: within the size limit (for bodies that did
 * not declare their length; see {@link BodyHeaders}) and UTF-8 (RFC 8259, section 8.1). Jackson alone would guess
 * UTF-16 or UTF-32 from the first bytes and read a garbled body.
 */
public class JsonBody {

    private final BodyHeaders limit;

    public JsonBody(BodyHeaders limit) {
        this.limit = limit;
    }

    @ServerRequestFilter
    public Optional<Response> check(ContainerRequestContext request) {
        String path = request.getUriInfo().getPath();
        if (!request.hasEntity() || !path.startsWith("/api/")) {
            return Optional.empty();
        }
        byte[] body;
        try {
            // Bounded: Quarkus has read at most quarkus.http.limits.max-body-size into memory already.
            body = request.getEntityStream().readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        if (body.length > limit.limit(path)) {
            return Optional.of(Problem.response(413, "Payload Too Large", limit.tooLarge(path, body.length),
                    ProblemMappers.BODY));
        }
        ByteBuffer bytes = ByteBuffer.wrap(body);
        try {
            StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(bytes);
        } catch (CharacterCodingException e) {
            int at = Math.min(bytes.position(), body.length - 1);
            return Optional.of(Problem.response(Response.Status.BAD_REQUEST, "the body is not valid UTF-8 (byte "
                    + String.format("0x%02x", body[at]) + " at offset " + at + "); send JSON encoded as UTF-8",
                    ProblemMappers.BODY));
        }
        request.setEntityStream(new ByteArrayInputStream(body));
        return Optional.empty();
    }
}
