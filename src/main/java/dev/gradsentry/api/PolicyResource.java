package dev.gradsentry.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.gradsentry.core.InvalidSettingException;
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

import java.util.Map;

/** The guard's clipping policy and settings, for new runs and the active one. */
@Path("/api/policy")
@Produces(MediaType.APPLICATION_JSON)
public class PolicyResource {

    private static final Logger LOG = Logger.getLogger(PolicyResource.class);

    private final RunRegistry runs;
    private final ObjectMapper json;
    private final Overlay overlay;

    public PolicyResource(RunRegistry runs, ObjectMapper json) {
        this.runs = runs;
        this.json = json;
        this.overlay = new Overlay(json);
    }

    @GET
    public PolicyView get() {
        return PolicyView.of(runs.guardPolicy());
    }

    /** Validates the whole change first: a rejected request changes nothing. */
    @PUT
    @Consumes(MediaType.APPLICATION_JSON)
    public PolicyView put(PolicyView.Change change) throws JsonProcessingException {
        if (change == null) {
            throw new InvalidSettingException("policy", "the body is empty; send e.g. "
                    + "{\"policy\": \"adaptive\"} or {\"mode\": \"observe\"}");
        }
        RunRegistry.PolicyChange applied = runs.changeGuardPolicy(current -> changed(current, change), "api");
        GuardPolicy next = applied.after();
        if (applied.changed()) {
            LOG.infof("guard policy changed through the API: %s", String.join(", ",
                    next.differences(applied.before())));
        }
        return PolicyView.of(next);
    }

    /** The policy in force with the fields of {@code change} laid over it. */
    private GuardPolicy changed(GuardPolicy current, PolicyView.Change change) throws JsonProcessingException {
        GuardSettings settings = overlay.apply(current.guard(), json.valueToTree(change.guard()));
        String name = change.policy() == null ? current.policy() : change.policy();
        Map<String, Double> policySettings = change.settings() != null ? change.settings()
                : name.equals(current.policy()) ? current.policySettings() : Map.of();
        try {
            return new GuardPolicy(name, policySettings, settings);
        } catch (InvalidSettingException e) {
            // The body calls GuardPolicy's policySettings "settings".
            throw new InvalidSettingException(e.field().replaceFirst("^policySettings", "settings"), e.getMessage());
        }
    }
}
