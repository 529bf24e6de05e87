package dev.gradsentry.bench;

import dev.gradsentry.core.clip.ClipDecision;
import dev.gradsentry.core.clip.ClipPolicy;
import dev.gradsentry.core.detect.Signal;
import dev.gradsentry.core.probe.GradientEdit;
import dev.gradsentry.core.probe.GradientInterceptor;
import dev.gradsentry.core.probe.LayerStats;
import dev.gradsentry.core.probe.ParamStats;
import dev.gradsentry.core.probe.StepStats;

/**
 * A clipping policy on its own, the way Keras' {@code clipvalue}, PyTorch's {@code clip_grad_norm_} or a paper's
 * reference code applies it: the policy's decision is applied to every step, and nothing else happens. No step is
 * skipped and nothing is rolled back, so a non-finite gradient reaches the weights as it would in those frameworks.
 * The guard does the same clipping but wraps it in skips and rollbacks; its version is private to it, hence this one.
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
        if (changes(decision, measured)) {
            clippedSteps++;
            apply(decision, measured, edit);
        }
    }

    @Override
    public void afterUpdate(StepStats step, boolean undone) {
    }

    private static boolean changes(ClipDecision decision, StepStats m) {
        if (decision instanceof ClipDecision.GlobalNorm g) {
            return m.globalNorm() > g.threshold();
        }
        if (decision instanceof ClipDecision.LayerNorm l) {
            return m.layers().stream()
                    .anyMatch(x -> l.thresholds().containsKey(x.layer()) && x.norm() > l.thresholds().get(x.layer()));
        }
        if (decision instanceof ClipDecision.ParamNorm p) {
            return m.layers().stream().flatMap(x -> x.params().stream()).anyMatch(x -> x.norm() > p.threshold());
        }
        if (decision instanceof ClipDecision.Value v) {
            return m.maxAbs() > v.threshold();
        }
        // Unit-wise clipping depends on each unit's weights, which the step statistics do not carry.
        return decision instanceof ClipDecision.UnitWise;
    }

    private static void apply(ClipDecision decision, StepStats m, GradientEdit edit) {
        if (decision instanceof ClipDecision.GlobalNorm g) {
            edit.scaleAll(g.threshold() / m.globalNorm());
        } else if (decision instanceof ClipDecision.LayerNorm l) {
            for (LayerStats x : m.layers()) {
                Double t = l.thresholds().get(x.layer());
                if (t != null && x.norm() > t) {
                    edit.scaleLayer(x.layer(), t / x.norm());
                }
            }
        } else if (decision instanceof ClipDecision.ParamNorm p) {
            for (LayerStats x : m.layers()) {
                for (ParamStats q : x.params()) {
                    if (q.norm() > p.threshold()) {
                        edit.scaleParam(x.layer(), q.param(), p.threshold() / q.norm());
                    }
                }
            }
        } else if (decision instanceof ClipDecision.Value v) {
            edit.clipValue(v.threshold());
        } else if (decision instanceof ClipDecision.UnitWise u) {
            edit.clipUnitWise(u.lambda(), u.eps());
        }
    }
}
