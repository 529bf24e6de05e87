package dev.gradsentry.core.clip;

import dev.gradsentry.core.detect.Signal;
import dev.gradsentry.core.probe.StepStats;

import java.util.Map;

/**
 * Fixed per-parameter L2 norm clipping (DL4J's {@code ClipL2PerParamType}): the gradient of each parameter array
 * (W, b, RW, ... of every layer) whose own L2 norm exceeds {@code threshold} is scaled by {@code threshold / norm},
 * on every step.
 *
 * <p>Decision: always {@code ClipDecision.ParamNorm(threshold)}; the guard applies it. Thresholds are on the
 * batch-averaged scale of {@link StepStats}. Keeps no history.
 */
public final class ParamNormClip implements ClipPolicy {

    public static final String NAME = "param-norm";
    public static final double DEFAULT_THRESHOLD = 1.0;

    private final double threshold;
    private final ClipDecision decision;

    public ParamNormClip(double threshold) {
        this.threshold = Setting.positive("threshold", threshold);
        this.decision = new ClipDecision.ParamNorm(threshold);
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
        return new ParamNormClip(threshold);
    }

    @Override
    public String toString() {
        return NAME + settings();
    }
}
