package dev.gradsentry.api;

import dev.gradsentry.core.clip.ClipPolicies;
import dev.gradsentry.core.intervene.GuardMode;
import dev.gradsentry.core.intervene.GuardSettings;
import dev.gradsentry.training.GuardPolicy;
import dev.gradsentry.training.RunRegistry;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.PUT;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import org.jboss.logging.Logger;

import java.util.Locale;
import java.util.Map;

/** The guard's clipping policy and settings, for new runs and the active one. */
@Path("/api/policy")
@Produces(MediaType.APPLICATION_JSON)
public class PolicyResource {

    private static final Logger LOG = Logger.getLogger(PolicyResource.class);

    private final RunRegistry runs;

    public PolicyResource(RunRegistry runs) {
        this.runs = runs;
    }

    @GET
    public PolicyView get() {
        return PolicyView.of(runs.guardPolicy());
    }

    /** Validates the whole change first: a rejected request changes nothing. */
    @PUT
    @Consumes(MediaType.APPLICATION_JSON)
    public PolicyView put(PolicyView change) {
        if (change == null) {
            throw new ProblemMappers.BadRequestProblem("policy", "the body is empty; send e.g. "
                    + "{\"policy\": \"adaptive\"} or {\"mode\": \"observe\"}");
        }
        GuardPolicy current = runs.guardPolicy();
        GuardSettings g = current.guard();
        GuardMode mode = change.mode() == null ? g.mode() : RunRequest.parse("mode", change.mode(), GuardMode.class,
                g.mode());
        GuardSettings settings;
        try {
            settings = new GuardSettings(mode, or(change.snapshotEvery(), g.snapshotEvery()),
                    or(change.lrBackoffFactor(), g.lrBackoffFactor()), or(change.lrRestoreAfter(), g.lrRestoreAfter()),
                    or(change.maxRecoveries(), g.maxRecoveries()), or(change.recoveryWindow(), g.recoveryWindow()),
                    or(change.extremeSpikeRatio(), g.extremeSpikeRatio()), or(change.spikeZ(), g.spikeZ()),
                    or(change.spikeWarmup(), g.spikeWarmup()), or(change.divergenceFactor(), g.divergenceFactor()),
                    or(change.divergencePatience(), g.divergencePatience()),
                    or(change.maxSkippedShare(), g.maxSkippedShare()));
        } catch (IllegalArgumentException e) {
            throw new ProblemMappers.BadRequestProblem(e.getMessage().split(" ")[0], e.getMessage());
        }
        String name = change.policy() == null ? current.policy() : change.policy();
        if (!ClipPolicies.names().contains(name)) {
            throw new ProblemMappers.BadRequestProblem("policy", "unknown policy '" + name + "'; valid: "
                    + String.join(", ", ClipPolicies.names()));
        }
        Map<String, Double> policySettings = change.settings() != null ? change.settings()
                : name.equals(current.policy()) ? current.policySettings() : Map.of();
        GuardPolicy next;
        try {
            next = new GuardPolicy(name, policySettings, settings);
        } catch (IllegalArgumentException e) {
            throw new ProblemMappers.BadRequestProblem("settings." + settingName(e.getMessage(), policySettings),
                    e.getMessage());
        }
        runs.changeGuardPolicy(next, "api");
        LOG.infof("guard policy changed through the API: mode %s, %s %s", mode.name().toLowerCase(Locale.ROOT),
                next.policy(), next.policySettings());
        return PolicyView.of(next);
    }

    private static <T> T or(T given, T current) {
        return given != null ? given : current;
    }

    /** The setting an error message is about: the key it quotes, or the key it starts with. */
    private static String settingName(String message, Map<String, Double> given) {
        for (String key : given.keySet()) {
            if (message.startsWith(key + " ") || message.contains("'" + key + "'")) {
                return key;
            }
        }
        return message.split(" ")[0];
    }
}
