package dev.gradsentry.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonStreamContext;
import com.fasterxml.jackson.core.exc.InputCoercionException;
import com.fasterxml.jackson.core.exc.StreamReadException;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.exc.InvalidFormatException;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import dev.gradsentry.core.InvalidSettingException;
import dev.gradsentry.core.ExternalName;
import dev.gradsentry.training.RunRegistry;
import jakarta.validation.ConstraintViolation;
import jakarta.validation.ConstraintViolationException;
import jakarta.validation.ElementKind;
import jakarta.validation.Path;
import jakarta.ws.rs.NotAcceptableException;
import jakarta.ws.rs.NotAllowedException;
import jakarta.ws.rs.NotFoundException;
import jakarta.ws.rs.NotSupportedException;
import jakarta.ws.rs.WebApplicationException;
import jakarta.ws.rs.core.Response;
import org.jboss.logging.Logger;
import org.jboss.resteasy.reactive.server.ServerExceptionMapper;

import java.io.CharConversionException;
import java.time.temporal.Temporal;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Collectors;

/** Turns every failure of a request into an {@code application/problem+json} body that names the field at fault. */
public class ProblemMappers {

    private static final Logger LOG = Logger.getLogger(ProblemMappers.class);
    /** The field a problem names when the fault is the request body as a whole. */
    static final String BODY = "body";

    /** A field that breaks its rule: a value a record refuses, or a request that asks for something invalid. */
    @ServerExceptionMapper
    public Response invalidSetting(InvalidSettingException e) {
        return Problem.response(Response.Status.BAD_REQUEST, e.getMessage(), e.field() == null ? BODY : e.field());
    }

    /** A request record's declared constraint: the field is the path below the resource method's parameter. */
    @ServerExceptionMapper(priority = 1)
    public Response constraint(ConstraintViolationException e) {
        ConstraintViolation<?> first = e.getConstraintViolations().stream()
                .min(Comparator.comparing(v -> v.getPropertyPath().toString())).orElseThrow();
        String field = requestPath(first.getPropertyPath());
        return Problem.response(Response.Status.BAD_REQUEST, (field.isEmpty() ? "the body" : field) + " "
                + first.getMessage(), field.isEmpty() ? BODY : field);
    }

    /** {@code alerts[0].status} of {@code receive.body.alerts[0].status}. */
    private static String requestPath(Path path) {
        StringBuilder field = new StringBuilder();
        for (Path.Node node : path) {
            if (node.getKind() == ElementKind.METHOD || node.getKind() == ElementKind.PARAMETER) {
                continue;
            }
            if (node.isInIterable()) {
                field.append('[').append(node.getIndex() != null ? node.getIndex() : node.getKey()).append(']');
            }
            if (node.getName() != null && node.getKind() != ElementKind.CONTAINER_ELEMENT) {
                field.append(field.isEmpty() ? "" : ".").append(node.getName());
            }
        }
        return field.toString();
    }

    @ServerExceptionMapper
    public Response notFound(NotFoundProblem e) {
        return Problem.response(Response.Status.NOT_FOUND, e.getMessage(), e.field());
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
        if (invalidUtf8(e)) {
            return Problem.response(Response.Status.BAD_REQUEST, "the body is not valid UTF-8 ("
                    + e.getOriginalMessage() + "); send JSON encoded as UTF-8", BODY);
        }
        if (e instanceof UnrecognizedPropertyException u) {
            return Problem.response(Response.Status.BAD_REQUEST, "unknown field '" + u.getPropertyName()
                    + "'; valid fields: " + u.getKnownPropertyIds().stream().map(Object::toString).sorted()
                    .collect(Collectors.joining(", ")), FieldPath.of(u));
        }
        if (e instanceof InvalidFormatException name && name.getTargetType() != null
                && name.getTargetType().isEnum()) {
            String field = FieldPath.of(name);
            return Problem.response(Response.Status.BAD_REQUEST, field + " '" + name.getValue()
                    + "' is not valid; valid: " + ExternalName.valid(enumType(name)), field);
        }
        if (e instanceof MismatchedInputException mismatch && mismatch.getTargetType() != null) {
            String field = mismatch.getPath().isEmpty() ? null : FieldPath.of(mismatch);
            return Problem.response(Response.Status.BAD_REQUEST, (field == null ? "the body" : field)
                    + " has the wrong type: it must be " + expected(mismatch.getTargetType()),
                    field == null ? BODY : field);
        }
        // A syntax error carries no mapping path (or only the enclosing object's), but the parser knows the field.
        StreamReadException syntax = streamRead(e);
        String field = syntax != null && syntax.getProcessor() != null
                && !e.getOriginalMessage().contains("end-of-input")
                ? parsingPath(syntax.getProcessor().getParsingContext()) : null;
        if (field == null && e instanceof JsonMappingException m && !m.getPath().isEmpty()) {
            field = FieldPath.of(m);
        }
        if (field != null && e.getOriginalMessage().startsWith("Duplicate field")) {
            return Problem.response(Response.Status.BAD_REQUEST, "field '" + field + "' appears more than once; "
                    + "give it once", field);
        }
        String what = syntax == null ? "has the wrong type or format"
                : syntax instanceof InputCoercionException ? "is out of range" : "is not valid JSON";
        return Problem.response(Response.Status.BAD_REQUEST, (field == null ? "the body " : "field '" + field + "' ")
                + what + ": " + e.getOriginalMessage(), field == null ? BODY : field);
    }

    private static StreamReadException streamRead(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof StreamReadException r) {
                return r;
            }
        }
        return null;
    }

    private static boolean invalidUtf8(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof CharConversionException || t.getMessage() != null
                    && t.getMessage().contains("Invalid UTF-8")) {
                return true;
            }
        }
        return false;
    }

    /** What a JSON value must look like to fill a field of this Java type, in the words of the JSON spec. */
    private static String expected(Class<?> type) {
        if (type == Integer.class || type == int.class || type == Long.class || type == long.class) {
            return "a whole number (a JSON number without a fraction or quotes)";
        }
        if (type == Double.class || type == double.class) {
            return "a finite number (a JSON number without quotes)";
        }
        if (type == String.class) {
            return "a string (in quotes)";
        }
        if (type == Boolean.class || type == boolean.class) {
            return "true or false";
        }
        if (Collection.class.isAssignableFrom(type)) {
            return "a list ([...])";
        }
        if (Temporal.class.isAssignableFrom(type)) {
            return "a time as RFC 3339 writes it, in quotes, such as \"2026-11-25T11:26:16Z\"";
        }
        if (type.isEnum()) {
            return "one of " + ExternalName.valid(enumType(type)) + " (a string, in quotes)";
        }
        return "an object ({...})";
    }

    @SuppressWarnings("unchecked")
    private static Class<? extends Enum<?>> enumType(Class<?> type) {
        return (Class<? extends Enum<?>>) type;
    }

    private static Class<? extends Enum<?>> enumType(InvalidFormatException e) {
        return enumType(e.getTargetType());
    }

    /** The dotted path of the field the parser was in, or null at the top level. */
    private static String parsingPath(JsonStreamContext context) {
        List<String> names = new ArrayList<>();
        for (JsonStreamContext c = context; c != null && !c.inRoot(); c = c.getParent()) {
            if (c.inObject() && c.getCurrentName() != null) {
                names.add(0, c.getCurrentName());
            } else if (c.inArray()) {
                names.add(0, "[" + Math.max(c.getCurrentIndex(), 0) + "]");
            }
        }
        return names.isEmpty() ? null : String.join(".", names).replace(".[", "[");
    }

    @ServerExceptionMapper
    public Response web(WebApplicationException e) {
        if (e.getCause() instanceof JsonProcessingException json) {
            return json(json); // the JSON reader wraps syntax errors
        }
        Response r = e.getResponse();
        if (e instanceof NotSupportedException) {
            return Problem.response(r.getStatus(), r.getStatusInfo().getReasonPhrase(), "send the body as JSON "
                    + "with 'Content-Type: application/json'", "Content-Type");
        }
        if (e instanceof NotAcceptableException) {
            return Problem.response(r.getStatus(), r.getStatusInfo().getReasonPhrase(), "this endpoint answers "
                    + "in JSON; accept application/json", "Accept");
        }
        if (e instanceof NotAllowedException) {
            return Problem.response(r.getStatus(), r.getStatusInfo().getReasonPhrase(), "this path does not take "
                    + "that method; docs/rest-api.md lists each path's methods", "method");
        }
        if (e instanceof NotFoundException) {
            return Problem.response(r.getStatus(), r.getStatusInfo().getReasonPhrase(), "no such path; the "
                    + "endpoints are listed in docs/rest-api.md", "path");
        }
        return Problem.response(r.getStatus(), r.getStatusInfo().getReasonPhrase(), e.getMessage(), null);
    }

    @ServerExceptionMapper
    public Response unexpected(Exception e) {
        LOG.error("unexpected error while handling a request", e);
        return Problem.response(Response.Status.INTERNAL_SERVER_ERROR,
                "internal error (" + e.getClass().getSimpleName() + "); the server log has the details", null);
    }

    /** The request does not fit the state the target is in. */
    public static final class ConflictProblem extends RuntimeException {
        public ConflictProblem(String message) {
            super(message);
        }
    }

    /** The path names something that does not exist. */
    public static final class NotFoundProblem extends RuntimeException {
        private final String field;

        public NotFoundProblem(String message) {
            this(null, message);
        }

        /** @param field the path parameter naming the missing thing, e.g. {@code id} */
        public NotFoundProblem(String field, String message) {
            super(message);
            this.field = field;
        }

        public String field() {
            return field;
        }
    }
}
