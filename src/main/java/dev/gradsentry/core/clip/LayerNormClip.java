package dev.gradsentry.core.clip;

import dev.gradsentry.core.detect.Signal;
import dev.gradsentry.core.probe.LayerStats;
import dev.gradsentry.core.probe.StepStats;

import java.util.HashMap;
import java.util.Map;

/**
 * Fixed per-layer L2 norm clipping (DL4J's {@code ClipL2PerLayer}): each layer whose gradient norm, over all its
 * parameters, exceeds {@code threshold} is scaled by {@code threshold / layerNorm}, on every step.
 *
 * <p>Decision: {@code ClipDecision.LayerNorm} with {@code threshold} for every layer of the step (keys are the
 * layer names of {@link StepStats#layers()}); the guard applies it. Keeps no history.
 */
public final class LayerNormClip implements ClipPolicy {

    public static final String NAME = "norm";
    public static final double DEFAULT_THRESHOLD = 1.0;

    private final double threshold;

    public LayerNormClip(double threshold) {
        this.threshold = Setting.positive("threshold", threshold);
    }

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public ClipDecision decide(StepStats step, Signal signal) {
        Map<String, Double> thresholds = new HashMap<>();
        for (LayerStats layer : step.layers()) {
            thresholds.put(layer.layer(), threshold);
        }
        return new ClipDecision.LayerNorm(thresholds);
    }

    @Override
    public Map<String, Double> settings() {
        return Map.of("threshold", threshold);
    }

    @Override
    public ClipPolicy copy() {
        return new LayerNormClip(threshold);
    }

    @Override
    public String toString() {
        return NAME + settings();
    }
}
