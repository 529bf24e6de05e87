package dev.gradsentry.core.clip;

import dev.gradsentry.core.detect.Signal;
import dev.gradsentry.core.probe.StepStats;

import java.util.Map;

/**
 * Element-wise value clipping (Mikolov 2012, "Statistical Language Models Based on Neural Networks", PhD thesis;
 * Keras {@code clipvalue}; DL4J's {@code ClipElementWiseAbsoluteValue}): every gradient value is clipped to
 * {@code [-threshold, threshold]}, on every step. Unlike the norm clips it can change the gradient's direction.
 *
 * <p>Decision: always {@code ClipDecision.Value(threshold)}; the guard applies it. Thresholds are on the
 * batch-averaged scale of {@link StepStats}. Keeps no history.
 */
public final class ValueClip implements ClipPolicy {

    public static final String NAME = "value";
    public static final double DEFAULT_THRESHOLD = 1.0;

    private final double threshold;
    private final ClipDecision decision;

    public ValueClip(double threshold) {
        this.threshold = Setting.positive("threshold", threshold);
        this.decision = new ClipDecision.Value(threshold);
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
        return new ValueClip(threshold);
    }

    @Override
    public String toString() {
        return NAME + settings();
    }
}
