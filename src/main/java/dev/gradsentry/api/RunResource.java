package dev.gradsentry.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.gradsentry.core.InvalidSettingException;
import dev.gradsentry.training.RunRegistry;
import dev.gradsentry.training.RunStatus;
import jakarta.validation.Valid;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.DefaultValue;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.UriInfo;

import java.time.Duration;
import java.util.List;

/** Training runs: start one, watch it, stop it. One run trains at a time. */
@Path("/api/runs")
@Produces(MediaType.APPLICATION_JSON)
public class RunResource {

    private static final Duration STOP_WAIT = Duration.ofSeconds(10);

    private final RunRegistry runs;
    private final ObjectMapper json;

    public RunResource(RunRegistry runs, ObjectMapper json) {
        this.runs = runs;
        this.json = json;
    }

    @POST
    @Consumes(MediaType.APPLICATION_JSON)
    public Response start(@Valid RunRequest request, @Context UriInfo uri) throws JsonProcessingException {
        if (request == null) {
            throw new InvalidSettingException("workload",
                    "the body is empty; send at least {\"workload\": \"fashion-mlp\"}");
        }
        RunStatus started = runs.start(request.toSpec(json, runs::batchesPerEpoch));
        return Response.created(uri.getAbsolutePathBuilder().path(started.id()).build()).entity(new RunView(started))
                .build();
    }

    @GET
    public List<RunView> list() {
        return runs.all().stream().map(RunView::new).toList();
    }

    @GET
    @Path("current")
    public RunView current() {
        return runs.current().map(RunView::new)
                .orElseThrow(() -> new ProblemMappers.NotFoundProblem("no run has been started yet"));
    }

    @GET
    @Path("{id}")
    public RunView get(@PathParam("id") String id) {
        return runs.find(id).map(RunView::new).orElseThrow(() -> unknown(id));
    }

    /**
     * Stops the run after its step in progress and returns its status once stopped (or after 10 s). With
     * {@code ?suspend=true} the run ends {@code interrupted} instead of {@code stopped}, with a checkpoint of that
     * step, and {@code POST /api/runs/{id}/resume} (or a restart with {@code gradsentry.resume-interrupted=true})
     * continues it.
     */
    @DELETE
    @Path("{id}")
    public RunView stop(@PathParam("id") String id, @QueryParam("suspend") @DefaultValue("false") String suspend) {
        boolean resumable = switch (suspend.strip()) {
            case "true" -> true;
            case "false" -> false;
            // JAX-RS would read anything but "true" as false, and a typo would end the run for good.
            default -> throw new InvalidSettingException("suspend", "suspend must be true or false, was '"
                    + suspend + "'");
        };
        return (resumable ? runs.suspend(id, STOP_WAIT) : runs.stop(id, STOP_WAIT)).map(RunView::new)
                .orElseThrow(() -> unknown(id));
    }

    /**
     * Resumes a run the guard paused (from the last good state it keeps), one paused because a checkpoint could not
     * be written, or one an earlier process left interrupted (from its newest checkpoint); 409 for other states.
     */
    @POST
    @Path("{id}/resume")
    public RunView resume(@PathParam("id") String id) {
        try {
            return runs.resume(id, "api", null).map(RunView::new).orElseThrow(() -> unknown(id));
        } catch (IllegalStateException e) {
            throw new ProblemMappers.ConflictProblem(e.getMessage());
        }
    }

    private static ProblemMappers.NotFoundProblem unknown(String id) {
        return new ProblemMappers.NotFoundProblem("id",
                "no run with id '" + id + "'; GET /api/runs lists the known runs");
    }
}
