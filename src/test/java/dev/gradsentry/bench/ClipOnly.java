package dev.gradsentry.bench;

import dev.gradsentry.core.clip.ClipDecision;
import dev.gradsentry.core.clip.ClipPolicy;
import dev.gradsentry.core.detect.Signal;
import dev.gradsentry.core.probe.GradientEdit;
import dev.gradsentry.core.probe.GradientInterceptor;
import dev.gradsentry.core.probe.StepStats;

/**
 * A clipping policy on its own, the way Keras' {@code clipvalue}, PyTorch's {@code clip_grad_norm_} or a paper's
 * reference code applies it: the policy's decision is applied to every step, and nothing else happens. No step is
 * skipped and nothing is rolled back, so a non-finite gradient reaches the weights as it would in those frameworks.
 * The guard applies the same {@link ClipDecision}s but wraps them in skips and rollbacks.
 */
final class ClipOnly implements GradientInterceptor {

    private final ClipPolicy policy;
    private long clippedSteps;

    ClipOnly(ClipPolicy policy) {
        this.policy = policy;
    }

    /** Steps whose gradient the policy changed. */
    long clippedSteps() {
        return clippedSteps;
    }

    @Override
    public void beforeUpdate(StepStats measured, GradientEdit edit) {
        if (!measured.finite()) {
            return; // policies only see finite steps; the frameworks above would apply this update unchanged
        }
        ClipDecision decision = policy.decide(measured, Signal.QUIET);
        if (decision.binds(measured)) {
            clippedSteps++;
            decision.apply(measured, edit);
        }
    }

    @Override
    public void afterUpdate(StepStats step, boolean undone) {
    }
}
