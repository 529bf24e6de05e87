package dev.gradsentry.bench;

import dev.gradsentry.core.clip.ClipPolicies;
import dev.gradsentry.core.clip.ClipPolicy;
import dev.gradsentry.core.clip.NoClip;

import java.util.Map;

/**
 * One way of training in the stability benchmark: plainly, with a clipping policy applied on its own
 * ({@link ClipOnly}), inside a guard built by hand with a given policy, or with the one-line {@code Guard.protect}.
 *
 * @param label    how tables and plots name it, e.g. {@code value 0.1}
 * @param kind     how it trains
 * @param policy   the {@link ClipPolicies} name; null for {@link Kind#PROTECT}, which brings its own
 * @param settings the policy's settings; empty for its defaults
 * @param grid     for a fixed threshold, the grid it belongs to ({@code value}, {@code norm}, {@code global-norm}),
 *                 whose best member is the hand-tuned reference; null otherwise
 */
record Contender(String label, Kind kind, String policy, Map<String, Double> settings, String grid) {

    /** How a contender trains. */
    enum Kind {
        /** No clipping, no guard. */
        PLAIN,
        /** A clipping policy applied to every step and nothing else, as Keras' {@code clipvalue} would. */
        CLIP_ONLY,
        /** {@code new Guard(net, run, policy, GuardSettings.defaults(), clock)} handed to a probe by the caller. */
        GUARD_WITH_POLICY,
        /** {@code Guard.protect(net)}: what a user gets from the one-line API, every default. */
        PROTECT
    }

    Contender {
        settings = Map.copyOf(settings);
        if (kind != Kind.PROTECT) {
            ClipPolicies.create(policy, settings); // fails now, not hours into a run, on a misspelt setting
        }
    }

    static Contender none() {
        return new Contender(NoClip.NAME, Kind.PLAIN, NoClip.NAME, Map.of(), null);
    }

    /** A clipping policy with its papers' defaults, alone: {@code autoclip}, {@code zclip}, {@code agc}. */
    static Contender clipOnly(String policy) {
        return new Contender(policy, Kind.CLIP_ONLY, policy, Map.of(), null);
    }

    static Contender fixed(String grid, double threshold) {
        return new Contender(grid + " " + number(threshold), Kind.CLIP_ONLY, grid, Map.of("threshold", threshold),
                grid);
    }

    /** GradSentry as a user attaches it: {@code Guard.protect(network)} with every default. */
    static Contender protect() {
        return new Contender("guard (defaults)", Kind.PROTECT, null, Map.of(), null);
    }

    /** The guard's skips and rollbacks without any clipping: how much of {@link #protect()} is not clipping. */
    static Contender guardWithoutClipping() {
        return new Contender("guard, no clipping", Kind.GUARD_WITH_POLICY, NoClip.NAME, Map.of(), null);
    }

    ClipPolicy create() {
        return ClipPolicies.create(policy, settings);
    }

    boolean guarded() {
        return kind == Kind.GUARD_WITH_POLICY || kind == Kind.PROTECT;
    }

    static String number(double v) {
        return v == Math.rint(v) ? String.valueOf((long) v) : String.valueOf(v);
    }
}
