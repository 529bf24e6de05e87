package dev.gradsentry.training;

import dev.gradsentry.core.InvalidSettingException;
import dev.gradsentry.core.clip.AdaptiveClip;
import dev.gradsentry.core.clip.ClipPolicies;
import dev.gradsentry.core.clip.ClipPolicy;
import dev.gradsentry.core.ExternalName;
import dev.gradsentry.core.intervene.GuardSettings;

import java.lang.reflect.RecordComponent;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

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

    /** Whether {@code other} has this clipping policy with these settings (the guard's own settings aside). */
    public boolean samePolicy(String otherPolicy, Map<String, Double> otherSettings) {
        return policy.equals(otherPolicy) && policySettings.equals(otherSettings);
    }

    /**
     * What differs from {@code before}, field by field, for the audit: {@code policy adaptive -> value},
     * {@code relaxAfter 500.0 -> 100.0}, {@code mode auto -> observe}; empty when nothing does.
     */
    public List<String> differences(GuardPolicy before) {
        List<String> changed = new ArrayList<>();
        if (!policy.equals(before.policy)) {
            changed.add("policy " + before.policy + " -> " + policy);
        } else {
            for (Map.Entry<String, Double> e : new TreeMap<>(policySettings).entrySet()) {
                Double old = before.policySettings.get(e.getKey());
                if (!e.getValue().equals(old)) {
                    changed.add(e.getKey() + " " + old + " -> " + e.getValue());
                }
            }
        }
        for (RecordComponent c : GuardSettings.class.getRecordComponents()) {
            Object old = value(c, before.guard);
            Object now = value(c, guard);
            if (!Objects.equals(old, now)) {
                changed.add(c.getName() + " " + text(old) + " -> " + text(now));
            }
        }
        return changed;
    }

    private static Object value(RecordComponent c, GuardSettings s) {
        try {
            return c.getAccessor().invoke(s);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("a record's accessor is public", e);
        }
    }

    private static String text(Object value) {
        return value instanceof Enum<?> e ? ExternalName.of(e) : String.valueOf(value);
    }
}
