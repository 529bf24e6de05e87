package dev.gradsentry.core.clip;

import dev.gradsentry.core.detect.Signal;
import dev.gradsentry.core.probe.StepStats;
import dev.gradsentry.core.state.SavedState;

import java.util.Map;

/**
 * A rule that decides, step by step, how to clip the gradient.
 *
 * <p>Lifecycle: the guard calls {@link #decide} once per step, after the probe measured the gradient and before
 * DL4J's updater runs, with the step's statistics (finite: steps with NaN or infinite values are skipped and never
 * reach a policy) and the detectors' {@link Signal}. A policy keeps its own history (percentiles, moving averages)
 * and updates it inside {@code decide}. {@link ClipPolicies#create} with a policy's {@link #name()} and
 * {@link #settings()} builds one with the same settings and fresh history.
 * Policies are not thread-safe; the guard calls them from the training thread only.
 */
public interface ClipPolicy {

    /** The name used in configuration and the REST API, e.g. {@code global-norm}. */
    String name();

    /**
     * The clipping to apply to this step's gradient.
     *
     * @param step   the probe's measurement of this step's batch-averaged gradient, before any clipping
     * @param signal what the detectors saw this step
     */
    ClipDecision decide(StepStats step, Signal signal);

    /** Every setting with its value, for the policy API and the audit log's provenance. */
    Map<String, Double> settings();

    /**
     * Called instead of {@link #decide} for a step the guard skips because it held NaN or infinite values; a policy
     * that reacts to trouble (adaptive) arms itself here.
     */
    default void onSkippedStep(Signal signal) {
    }

    /** The change of clipping state made by the last {@link #decide} or {@link #onSkippedStep}, if any. */
    default ClipChange lastChange() {
        return null;
    }

    /**
     * The history the policy learned (percentile windows, moving averages, current thresholds) as named numbers, for
     * a checkpoint; a policy without history returns an empty map. {@link #restoreState} on a policy built with the
     * same name and settings gives a policy that decides exactly as this one would.
     */
    default SavedState saveState() {
        return SavedState.empty();
    }

    /** Takes over the history of {@link #saveState()}; throws {@link IllegalArgumentException} when it does not fit. */
    default void restoreState(SavedState state) {
    }
}
