package dev.gradsentry.core.clip;

import dev.gradsentry.core.detect.Signal;
import dev.gradsentry.core.probe.StepStats;

import java.util.Map;

/**
 * Fixed global L2 norm clipping (Pascanu, Mikolov, Bengio 2013, "On the difficulty of training recurrent neural
 * networks"; PyTorch's {@code clip_grad_norm_}): when the L2 norm over all gradients exceeds {@code threshold}, every
 * gradient is scaled by {@code threshold / globalNorm}, on every step.
 *
 * <p>Decision: always {@code ClipDecision.GlobalNorm(threshold)}; the guard applies it. Thresholds are on the
 * batch-averaged scale of {@link StepStats}. Keeps no history.
 */
public final class GlobalNormClip implements ClipPolicy {

    public static final String NAME = "global-norm";
    public static final double DEFAULT_THRESHOLD = 1.0;

    private final double threshold;
    private final ClipDecision decision;

    public GlobalNormClip(double threshold) {
        this.threshold = Setting.positive("threshold", threshold);
        this.decision = new ClipDecision.GlobalNorm(threshold);
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public ClipDecision decide(StepStats step, Signal signal) {
        return decision;
    }

    @Override
    public Map<String, Double> settings() {
        return Map.of("threshold", threshold);
    }

    @Override
    public ClipPolicy copy() {
        return new GlobalNormClip(threshold);
    }

    @Override
    public String toString() {
        return NAME + settings();
    }
}
