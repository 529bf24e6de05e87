package dev.gradsentry.api;

import dev.gradsentry.core.clip.ClipPolicies;
import dev.gradsentry.core.intervene.GuardSettings;
import dev.gradsentry.training.GuardPolicy;

import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The guard's policy as {@code GET /api/policy} shows it and {@code PUT /api/policy} takes it. In a PUT every field is
 * optional: a missing one keeps its current value, except that naming another policy without {@code settings} gives
 * that policy its defaults.
 */
public record PolicyView(String mode, String policy, Map<String, Double> settings, Integer snapshotEvery,
                         Double lrBackoffFactor, Integer lrRestoreAfter, Integer maxRecoveries,
                         Integer recoveryWindow, Double extremeSpikeRatio, Double spikeZ, Integer spikeWarmup,
                         Double divergenceFactor, Integer divergencePatience, Double maxSkippedShare,
                         List<String> policies) {

    static PolicyView of(GuardPolicy p) {
        GuardSettings g = p.guard();
        return new PolicyView(g.mode().name().toLowerCase(Locale.ROOT), p.policy(), p.policySettings(),
                g.snapshotEvery(), g.lrBackoffFactor(), g.lrRestoreAfter(), g.maxRecoveries(), g.recoveryWindow(),
                g.extremeSpikeRatio(), g.spikeZ(), g.spikeWarmup(), g.divergenceFactor(), g.divergencePatience(),
                g.maxSkippedShare(), ClipPolicies.names());
    }
}
