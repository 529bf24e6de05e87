package dev.gradsentry.core.clip;

import dev.gradsentry.core.detect.SpikeDetector;
import dev.gradsentry.core.probe.GradientEdit;
import dev.gradsentry.core.probe.LayerStats;
import dev.gradsentry.core.probe.ParamStats;
import dev.gradsentry.core.probe.StepStats;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What a {@link ClipPolicy} wants done to one step's gradient. Thresholds are on the batch-averaged scale the probe
 * reports (see {@code StepStats}); the {@link GradientEdit} converts them to DL4J's raw, batch-summed gradients.
 */
public sealed interface ClipDecision {

    /** Whether applying this decision changes the step's gradient at all. */
    boolean binds(StepStats step);

    /** Whether applying this decision changes the gradient of {@code layer}, one of the step's layers. */
    boolean bindsLayer(StepStats step, LayerStats layer);

    /** Clips the step's gradient in place, before DL4J's updater reads it. */
    void apply(StepStats step, GradientEdit edit);

    /** The same clipping with every threshold multiplied by {@code factor} (external tightening). */
    ClipDecision scaledBy(double factor);

    /**
     * The norm thresholds this decision clips at, for gauges and the audit: per layer, or {@code global} for all layers
     * at once; empty for decisions that do not clip a norm (none, value, unit-wise).
     */
    default Map<String, Double> thresholds() {
        return Map.of();
    }

    /** Leave the gradient as it is. */
    record None() implements ClipDecision {
        @Override
        public boolean binds(StepStats step) {
            return false;
        }

        @Override
        public boolean bindsLayer(StepStats step, LayerStats layer) {
            return false;
        }

        @Override
        public void apply(StepStats step, GradientEdit edit) {
        }

        @Override
        public ClipDecision scaledBy(double factor) {
            return this;
        }
    }

    /** Scale every gradient by {@code threshold / globalNorm} when the global norm exceeds {@code threshold}. */
    record GlobalNorm(double threshold) implements ClipDecision {
        public GlobalNorm {
            requirePositive(threshold, "threshold");
        }

        @Override
        public boolean binds(StepStats step) {
            return step.globalNorm() > threshold;
        }

        /** Every layer is scaled with the others. */
        @Override
        public boolean bindsLayer(StepStats step, LayerStats layer) {
            return binds(step);
        }

        @Override
        public void apply(StepStats step, GradientEdit edit) {
            edit.scaleAll(threshold / step.globalNorm());
        }

        @Override
        public ClipDecision scaledBy(double factor) {
            return new GlobalNorm(threshold * factor);
        }

        @Override
        public Map<String, Double> thresholds() {
            return Map.of(SpikeDetector.GLOBAL, threshold);
        }
    }

    /**
     * Scale each listed layer's gradient by {@code threshold / layerNorm} when the norm DL4J goes on to apply
     * ({@link LayerStats#appliedNorm}: after the layer's own gradient normalization) exceeds its threshold. A layer
     * DL4J renormalizes is never clipped: scaling it would change nothing.
     */
    record LayerNorm(Map<String, Double> thresholds) implements ClipDecision {
        public LayerNorm {
            thresholds = Map.copyOf(thresholds);
            thresholds.values().forEach(t -> requirePositive(t, "threshold"));
        }

        @Override
        public boolean binds(StepStats step) {
            return step.layers().stream()
                    .anyMatch(x -> thresholds.containsKey(x.layer()) && x.appliedNorm() > thresholds.get(x.layer()));
        }

        @Override
        public boolean bindsLayer(StepStats step, LayerStats layer) {
            Double t = thresholds.get(layer.layer());
            return t != null && layer.appliedNorm() > t;
        }

        @Override
        public void apply(StepStats step, GradientEdit edit) {
            for (LayerStats x : step.layers()) {
                Double t = thresholds.get(x.layer());
                if (t != null && x.appliedNorm() > t) {
                    // By the raw norm: the scaled gradient's norm is the threshold, and DL4J's own clip can only lower it.
                    edit.scaleLayer(x.layer(), t / x.norm());
                }
            }
        }

        @Override
        public ClipDecision scaledBy(double factor) {
            Map<String, Double> scaled = new LinkedHashMap<>();
            thresholds.forEach((layer, t) -> scaled.put(layer, t * factor));
            return new LayerNorm(scaled);
        }
    }

    /** Scale each parameter's gradient (W, b, RW separately) when its own norm exceeds {@code threshold}. */
    record ParamNorm(double threshold) implements ClipDecision {
        public ParamNorm {
            requirePositive(threshold, "threshold");
        }

        @Override
        public boolean binds(StepStats step) {
            return step.layers().stream().flatMap(x -> x.params().stream()).anyMatch(x -> x.norm() > threshold);
        }

        @Override
        public boolean bindsLayer(StepStats step, LayerStats layer) {
            for (ParamStats q : layer.params()) {
                if (q.norm() > threshold) {
                    return true;
                }
            }
            return false;
        }

        @Override
        public void apply(StepStats step, GradientEdit edit) {
            for (LayerStats x : step.layers()) {
                for (ParamStats q : x.params()) {
                    if (q.norm() > threshold) {
                        edit.scaleParam(x.layer(), q.param(), threshold / q.norm());
                    }
                }
            }
        }

        @Override
        public ClipDecision scaledBy(double factor) {
            return new ParamNorm(threshold * factor);
        }
    }

    /** Clip every gradient value to [-threshold, threshold]. */
    record Value(double threshold) implements ClipDecision {
        public Value {
            requirePositive(threshold, "threshold");
        }

        @Override
        public boolean binds(StepStats step) {
            return step.maxAbs() > threshold;
        }

        @Override
        public boolean bindsLayer(StepStats step, LayerStats layer) {
            return layer.maxAbs() > threshold;
        }

        @Override
        public void apply(StepStats step, GradientEdit edit) {
            edit.clipValue(threshold);
        }

        @Override
        public ClipDecision scaledBy(double factor) {
            return new Value(threshold * factor);
        }
    }

    /**
     * Adaptive gradient clipping (Brock et al. 2021): for each unit i (an output column of a weight matrix, one
     * entry of a bias), scale G_i by {@code lambda * max(|W_i|, eps) / |G_i|} when {@code |G_i| / max(|W_i|, eps)}
     * exceeds {@code lambda}.
     */
    record UnitWise(double lambda, double eps) implements ClipDecision {
        public UnitWise {
            requirePositive(lambda, "lambda");
            requirePositive(eps, "eps");
        }

        /** Always: whether a unit is clipped depends on its weights, which the step statistics do not carry. */
        @Override
        public boolean binds(StepStats step) {
            return true;
        }

        /** Always, as {@link #binds}. */
        @Override
        public boolean bindsLayer(StepStats step, LayerStats layer) {
            return true;
        }

        @Override
        public void apply(StepStats step, GradientEdit edit) {
            edit.clipUnitWise(lambda, eps);
        }

        @Override
        public ClipDecision scaledBy(double factor) {
            return new UnitWise(lambda * factor, eps);
        }
    }

    private static void requirePositive(double v, String name) {
        if (!(v > 0) || Double.isInfinite(v)) {
            throw new IllegalArgumentException(name + " must be a finite number > 0, was " + v);
        }
    }
}
