package dev.gradsentry.training;

import dev.gradsentry.core.clip.ClipPolicies;
import dev.gradsentry.core.clip.ClipPolicy;
import dev.gradsentry.core.intervene.GuardSettings;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The guard's configuration for this service: the clipping policy with its settings and the guard's own settings.
 * New runs start with it; the active run's guard follows every change. Values are validated on the way in, so a
 * rejected change leaves everything as it was.
 *
 * @param policy         a name from {@link ClipPolicies#names()}
 * @param policySettings every setting of that policy (defaults filled in)
 * @param guard          mode and the guard's own knobs
 */
public record GuardPolicy(String policy, Map<String, Double> policySettings, GuardSettings guard) {

    public GuardPolicy {
        ClipPolicy built = ClipPolicies.create(policy, policySettings);
        policySettings = Map.copyOf(new LinkedHashMap<>(built.settings()));
    }

    /** A fresh policy object with these settings, for a new run or a change. */
    public ClipPolicy newPolicy() {
        return ClipPolicies.create(policy, policySettings);
    }
}
