package dev.gradsentry.api;

import com.fasterxml.jackson.annotation.JsonAnySetter;
import com.fasterxml.jackson.annotation.JsonUnwrapped;
import com.fasterxml.jackson.databind.JsonNode;
import dev.gradsentry.core.clip.ClipPolicies;
import dev.gradsentry.core.intervene.GuardSettings;
import dev.gradsentry.training.GuardPolicy;

import java.util.List;
import java.util.Map;

/**
 * The guard's policy as {@code GET /api/policy} shows it: the clipping policy, its {@code settings}, every field of
 * {@link GuardSettings} beside them, and the policies there are.
 */
public record PolicyView(String policy, Map<String, Double> settings, @JsonUnwrapped GuardSettings guard,
                         List<String> policies) {

    static PolicyView of(GuardPolicy p) {
        return new PolicyView(p.policy(), p.policySettings(), p.guard(), ClipPolicies.names());
    }

    /**
     * The body of {@code PUT /api/policy}, shaped like the view. Every field is optional: a missing one keeps its
     * current value, except that naming another policy without {@code settings} gives that policy its defaults.
     *
     * @param guard    the other fields, the {@link GuardSettings} to change; checked when laid over the current ones
     * @param policies shown by {@code GET}, ignored here, so that what {@code GET} shows can be sent back
     */
    public record Change(String policy, Map<String, Double> settings, List<String> policies,
                         @JsonAnySetter Map<String, JsonNode> guard) {
        public Change {
            guard = guard == null ? Map.of() : guard;
        }
    }
}
