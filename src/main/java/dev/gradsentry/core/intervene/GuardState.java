package dev.gradsentry.core.intervene;

import dev.gradsentry.core.probe.NetworkState;
import dev.gradsentry.core.state.SavedState;

import java.util.Map;

/**
 * Everything a {@link Guard} learned about a run, taken between two steps, so that a guard restored from it on the
 * same network state makes the same decisions the original would have made.
 *
 * @param step                steps the guard has seen
 * @param healthySinceSnapshot healthy steps since the last snapshot of a good state
 * @param healthyStreak       consecutive healthy steps (for restoring a backed-off learning rate)
 * @param learningRateFactor  the factor the guard holds every layer's configured learning rate at (1: the user's own)
 * @param pendingLearningRateFactor a factor to set after the next step, NaN when none
 * @param recoveries          steps of the recent rollbacks, oldest first
 * @param thresholdScale      external tightening of every threshold
 * @param clippingRequested   whether an alert or a person asked for clipping
 * @param paused              whether the guard gave up on the run
 * @param lastGood            the state a rollback returns to
 * @param candidate           the state that becomes {@code lastGood} after another healthy stretch, or null
 * @param policy              name of the clipping policy in force
 * @param policySettings      its settings
 * @param policyState         its history
 * @param spikes              the spike detector's statistics
 * @param divergence          the divergence detector's window
 * @param progress            the loss windows that judge progress (see {@code LossProgress})
 * @param lostSteps           the ledger of skipped and rolled-back steps
 * @param pauseReason         why the guard paused, or null
 */
public record GuardState(long step, long healthySinceSnapshot, long healthyStreak, double learningRateFactor,
                         double pendingLearningRateFactor, long[] recoveries, double thresholdScale,
                         boolean clippingRequested, boolean paused, NetworkState lastGood, NetworkState candidate,
                         String policy, Map<String, Double> policySettings, SavedState policyState,
                         SavedState spikes, SavedState divergence, SavedState progress, SavedState lostSteps,
                         String pauseReason) {
    public GuardState {
        recoveries = recoveries.clone();
        policySettings = Map.copyOf(policySettings);
    }
}
