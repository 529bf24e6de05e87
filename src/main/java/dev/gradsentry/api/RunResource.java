package dev.gradsentry.api;

import dev.gradsentry.training.RunRegistry;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import jakarta.ws.rs.core.UriInfo;
import jakarta.ws.rs.core.Context;

import java.time.Duration;
import java.util.List;

/** Training runs: start one, watch it, stop it. One run trains at a time. */
@Path("/api/runs")
@Produces(MediaType.APPLICATION_JSON)
public class RunResource {

    private static final Duration STOP_WAIT = Duration.ofSeconds(10);

    private final RunRegistry runs;

    public RunResource(RunRegistry runs) {
        this.runs = runs;
    }

    @POST
    @Consumes(MediaType.APPLICATION_JSON)
    public Response start(RunRequest request, @Context UriInfo uri) {
        if (request == null) {
            throw new ProblemMappers.BadRequestProblem("workload",
                    "the body is empty; send at least {\"workload\": \"fashion-mlp\"}");
        }
        RunView view = RunView.of(runs.start(request.toSpec()));
        return Response.created(uri.getAbsolutePathBuilder().path(view.id()).build()).entity(view).build();
    }

    @GET
    public List<RunView> list() {
        return runs.all().stream().map(RunView::of).toList();
    }

    @GET
    @Path("current")
    public RunView current() {
        return runs.current().map(RunView::of)
                .orElseThrow(() -> new ProblemMappers.NotFoundProblem("no run has been started yet"));
    }

    @GET
    @Path("{id}")
    public RunView get(@PathParam("id") String id) {
        return runs.find(id).map(RunView::of).orElseThrow(() -> unknown(id));
    }

    /** Stops the run after its step in progress and returns its status once stopped (or after 10 s). */
    @DELETE
    @Path("{id}")
    public RunView stop(@PathParam("id") String id) {
        return runs.stop(id, STOP_WAIT).map(RunView::of).orElseThrow(() -> unknown(id));
    }

    /**
     * Resumes a run the guard paused (from the last good state it keeps), one paused because a checkpoint could not
     * be written, or one an earlier process left interrupted (from its newest checkpoint); 409 for other states.
     */
    @POST
    @Path("{id}/resume")
    public RunView resume(@PathParam("id") String id) {
        try {
            return runs.resume(id, "api", null).map(RunView::of).orElseThrow(() -> unknown(id));
        } catch (IllegalStateException e) {
            throw new ProblemMappers.ConflictProblem(e.getMessage());
        }
    }

    private static ProblemMappers.NotFoundProblem unknown(String id) {
        return new ProblemMappers.NotFoundProblem("id",
                "no run with id '" + id + "'; GET /api/runs lists the known runs");
    }
}
