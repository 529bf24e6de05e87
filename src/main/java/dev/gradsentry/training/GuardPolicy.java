package dev.gradsentry.training;

import dev.gradsentry.core.InvalidSettingException;
import dev.gradsentry.core.clip.AdaptiveClip;
import dev.gradsentry.core.clip.ClipPolicies;
import dev.gradsentry.core.clip.ClipPolicy;
import dev.gradsentry.core.intervene.GuardSettings;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The guard's configuration for this service: the clipping policy with its settings and the guard's own settings.
 * New runs start with it; the active run's guard follows every change. Values are validated on the way in, so a
 * rejected change leaves everything as it was; the {@link InvalidSettingException} names the field at fault:
 * {@code policy}, {@code policySettings.<name>}, or one of {@link GuardSettings}'.
 *
 * @param policy         a name from {@link ClipPolicies#names()}
 * @param policySettings every setting of that policy (defaults filled in)
 * @param guard          mode and the guard's own knobs
 */
public record GuardPolicy(String policy, Map<String, Double> policySettings, GuardSettings guard) {

    public GuardPolicy {
        if (!ClipPolicies.names().contains(policy)) {
            throw new InvalidSettingException("policy", "unknown policy '" + policy + "'; valid: "
                    + String.join(", ", ClipPolicies.names()));
        }
        policySettings = Map.copyOf(new LinkedHashMap<>(create(policy, policySettings).settings()));
    }

    /** Adaptive clipping with its own defaults and the guard's: what a service not configured otherwise uses. */
    public static GuardPolicy defaults() {
        return new GuardPolicy(AdaptiveClip.NAME, Map.of(), GuardSettings.defaults());
    }

    /** A fresh policy object with these settings, for a new run or a change. */
    public ClipPolicy newPolicy() {
        return ClipPolicies.create(policy, policySettings);
    }

    private static ClipPolicy create(String policy, Map<String, Double> settings) {
        try {
            return ClipPolicies.create(policy, settings);
        } catch (InvalidSettingException e) {
            throw new InvalidSettingException("policySettings." + e.field(), e.getMessage());
        }
    }
}
