package dev.gradsentry.api;

import dev.gradsentry.core.ExternalName;
import dev.gradsentry.core.InterventionKind;
import dev.gradsentry.core.InvalidSettingException;
import dev.gradsentry.core.intervene.Intervention;
import dev.gradsentry.training.RunRegistry;
import dev.gradsentry.training.TrainingRun;
import jakarta.ws.rs.DefaultValue;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;

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
    public Page list(@PathParam("id") String id, @QueryParam("kind") String kind,
                     @QueryParam("offset") @DefaultValue("0") String offsetParam,
                     @QueryParam("limit") @DefaultValue("100") String limitParam) {
        TrainingRun run = runs.run(id).orElseThrow(() -> new ProblemMappers.NotFoundProblem("id", "no run with id '"
                + id + "'; GET /api/runs lists the known runs"));
        int offset = wholeNumber("offset", offsetParam);
        int limit = wholeNumber("limit", limitParam);
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

    /** Query parameters arrive as text: JAX-RS would answer a non-number with 404, which names nothing. */
    private static int wholeNumber(String name, String value) {
        try {
            return Integer.parseInt(value.strip());
        } catch (NumberFormatException e) {
            throw new InvalidSettingException(name, name + " must be a whole number, was '" + value + "'");
        }
    }
}
