package dev.gradsentry.api;

import dev.gradsentry.core.ExternalName;
import dev.gradsentry.core.InterventionKind;
import dev.gradsentry.core.InvalidSettingException;
import dev.gradsentry.core.intervene.Intervention;
import dev.gradsentry.training.RunRegistry;
import dev.gradsentry.training.TrainingRun;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.UriInfo;

import java.util.List;
import java.util.function.Predicate;

/** A run's audit log of interventions, oldest first, paged and filtered by kind. */
@Path("/api/runs/{id}/interventions")
@Produces(MediaType.APPLICATION_JSON)
public class InterventionResource {

    static final int MAX_LIMIT = 1000;

    private final RunRegistry runs;

    public InterventionResource(RunRegistry runs) {
        this.runs = runs;
    }

    /** One page of interventions. */
    public record Page(long total, int offset, int limit, List<Intervention> items) {
    }

    @GET
    public Page list(@PathParam("id") String id, @QueryParam("kind") String kind, @Context UriInfo uri) {
        TrainingRun run = runs.run(id).orElseThrow(() -> new ProblemMappers.NotFoundProblem("id", "no run with id '"
                + id + "'; GET /api/runs lists the known runs"));
        int offset = wholeNumber("offset", query(uri, "offset", "0"));
        int limit = wholeNumber("limit", query(uri, "limit", "100"));
        InterventionKind wanted = kind == null ? null : ExternalName.find(InterventionKind.class, kind)
                .orElseThrow(() -> new InvalidSettingException("kind", "kind '" + kind + "' is not valid; valid: "
                        + ExternalName.valid(InterventionKind.class)));
        if (offset < 0) {
            throw new InvalidSettingException("offset", "offset must be >= 0");
        }
        if (limit < 1 || limit > MAX_LIMIT) {
            throw new InvalidSettingException("limit", "limit must be between 1 and " + MAX_LIMIT);
        }
        Predicate<Intervention> filter = wanted == null ? i -> true : i -> i.kind() == wanted;
        return new Page(run.interventions().count(filter), offset, limit,
                run.interventions().page(filter, offset, limit));
    }

    /**
     * The parameter as sent, or {@code absent} when it is not in the query at all. JAX-RS' {@code @DefaultValue} also
     * stands in for an empty value ({@code ?limit=}), which is a mistake to name, not a request for the default.
     */
    private static String query(UriInfo uri, String name, String absent) {
        List<String> values = uri.getQueryParameters().get(name);
        return values == null || values.isEmpty() ? absent : values.get(0);
    }

    /** Query parameters arrive as text: JAX-RS would answer a non-number with 404, which names nothing. */
    private static int wholeNumber(String name, String value) {
        try {
            return Integer.parseInt(value.strip());
        } catch (NumberFormatException e) {
            throw new InvalidSettingException(name, name + " must be a whole number, was '" + value + "'");
        }
    }
}
