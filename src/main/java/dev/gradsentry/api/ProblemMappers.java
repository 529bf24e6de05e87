package dev.gradsentry.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import dev.gradsentry.training.RunRegistry;
import dev.gradsentry.training.RunSpec;
import jakarta.ws.rs.WebApplicationException;
import jakarta.ws.rs.core.Response;
import org.jboss.logging.Logger;
import org.jboss.resteasy.reactive.server.ServerExceptionMapper;

import java.util.stream.Collectors;

/** Turns every failure of a request into an {@code application/problem+json} body that names the field at fault. */
public class ProblemMappers {

    private static final Logger LOG = Logger.getLogger(ProblemMappers.class);

    @ServerExceptionMapper
    public Response invalidSpec(RunSpec.InvalidSpecException e) {
        return Problem.response(Response.Status.BAD_REQUEST, e.getMessage(), e.field());
    }

    @ServerExceptionMapper
    public Response badRequest(BadRequestProblem e) {
        return Problem.response(Response.Status.BAD_REQUEST, e.getMessage(), e.field());
    }

    @ServerExceptionMapper
    public Response notFound(NotFoundProblem e) {
        return Problem.response(Response.Status.NOT_FOUND, e.getMessage(), null);
    }

    @ServerExceptionMapper
    public Response conflictingState(ConflictProblem e) {
        return Problem.response(Response.Status.CONFLICT, e.getMessage(), null);
    }

    @ServerExceptionMapper
    public Response conflict(RunRegistry.RunConflictException e) {
        return Problem.response(Response.Status.CONFLICT, e.getMessage(), null);
    }

    /** Declared apart because Quarkus ships its own mapper for this subtype, which answers in plain JSON. */
    @ServerExceptionMapper(priority = 1)
    public Response mismatchedInput(MismatchedInputException e) {
        return json(e);
    }

    @ServerExceptionMapper(priority = 1)
    public Response json(JsonProcessingException e) {
        String field = e instanceof JsonMappingException m && !m.getPath().isEmpty() ? path(m) : null;
        String detail;
        if (e instanceof UnrecognizedPropertyException u) {
            detail = "unknown field '" + u.getPropertyName() + "'; valid fields: "
                    + u.getKnownPropertyIds().stream().map(Object::toString).sorted().collect(Collectors.joining(", "));
        } else if (field != null) {
            detail = "field '" + field + "' has the wrong type or format: " + e.getOriginalMessage();
        } else {
            detail = "the body is not valid JSON: " + e.getOriginalMessage();
        }
        return Problem.response(Response.Status.BAD_REQUEST, detail, field);
    }

    private static String path(JsonMappingException e) {
        return e.getPath().stream()
                .map(r -> r.getFieldName() != null ? r.getFieldName() : "[" + r.getIndex() + "]")
                .collect(Collectors.joining("."))
                .replace(".[", "[");
    }

    @ServerExceptionMapper
    public Response web(WebApplicationException e) {
        if (e.getCause() instanceof JsonProcessingException json) {
            return json(json); // the JSON reader wraps syntax errors
        }
        Response r = e.getResponse();
        return Problem.response(r.getStatus(), r.getStatusInfo().getReasonPhrase(), e.getMessage(), null);
    }

    @ServerExceptionMapper
    public Response unexpected(Exception e) {
        LOG.error("unexpected error while handling a request", e);
        return Problem.response(Response.Status.INTERNAL_SERVER_ERROR,
                "internal error (" + e.getClass().getSimpleName() + "); the server log has the details", null);
    }

    /** A request that is well-formed JSON but asks for something invalid. */
    public static final class BadRequestProblem extends RuntimeException {
        private final String field;

        public BadRequestProblem(String field, String message) {
            super(message);
            this.field = field;
        }

        public String field() {
            return field;
        }
    }

    /** The request does not fit the state the target is in. */
    public static final class ConflictProblem extends RuntimeException {
        public ConflictProblem(String message) {
            super(message);
        }
    }

    /** The path names something that does not exist. */
    public static final class NotFoundProblem extends RuntimeException {
        public NotFoundProblem(String message) {
            super(message);
        }
    }
}
