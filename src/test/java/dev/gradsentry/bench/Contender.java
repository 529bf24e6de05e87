package dev.gradsentry.bench;

import dev.gradsentry.core.clip.ClipPolicies;
import dev.gradsentry.core.clip.ClipPolicy;
import dev.gradsentry.core.clip.NoClip;

import java.util.Map;

/**
 * One way of training in the stability benchmark: a clipping policy with its settings, applied on its own
 * ({@link ClipOnly}) or inside the guard.
 *
 * @param label    how tables and plots name it, e.g. {@code value 0.1}
 * @param policy   the {@link ClipPolicies} name
 * @param settings the policy's settings; empty for its defaults
 * @param guarded  true to run inside the guard (skips, rollbacks, learning-rate backoff), false for clipping alone
 * @param grid     for a fixed threshold, the grid it belongs to ({@code value}, {@code norm}, {@code global-norm}),
 *                 whose best member is the hand-tuned reference; null otherwise
 */
record Contender(String label, String policy, Map<String, Double> settings, boolean guarded, String grid) {

    Contender {
        settings = Map.copyOf(settings);
        ClipPolicies.create(policy, settings); // fails now, not hours into a run, on a misspelt setting
    }

    static Contender unguarded(String policy) {
        return new Contender(policy, policy, Map.of(), false, null);
    }

    static Contender fixed(String kind, double threshold) {
        return new Contender(kind + " " + number(threshold), kind, Map.of("threshold", threshold), false, kind);
    }

    /** GradSentry as shipped: the guard with the adaptive policy and every default. */
    static Contender adaptive() {
        return new Contender("adaptive (guard)", "adaptive", Map.of(), true, null);
    }

    /** The guard's skips and rollbacks without any clipping: how much of {@link #adaptive()} is not clipping. */
    static Contender guardWithoutClipping() {
        return new Contender("guard, no clipping", NoClip.NAME, Map.of(), true, null);
    }

    ClipPolicy create() {
        return ClipPolicies.create(policy, settings);
    }

    boolean trainsPlain() {
        return !guarded && policy.equals(NoClip.NAME);
    }

    static String number(double v) {
        return v == Math.rint(v) ? String.valueOf((long) v) : String.valueOf(v);
    }
}
