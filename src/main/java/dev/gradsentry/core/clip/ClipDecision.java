package dev.gradsentry.core.clip;

import java.util.Map;

/**
 * What a {@link ClipPolicy} wants done to one step's gradient. Thresholds are on the batch-averaged scale the probe
 * reports (see {@code StepStats}); the guard converts them to DL4J's raw, batch-summed gradients when it applies them.
 */
public sealed interface ClipDecision {

    /** Leave the gradient as it is. */
    record None() implements ClipDecision {
    }

    /** Scale every gradient by {@code threshold / globalNorm} when the global norm exceeds {@code threshold}. */
    record GlobalNorm(double threshold) implements ClipDecision {
        public GlobalNorm {
            requirePositive(threshold, "threshold");
        }
    }

    /** Scale each listed layer's gradient by {@code threshold / layerNorm} when its norm exceeds its threshold. */
    record LayerNorm(Map<String, Double> thresholds) implements ClipDecision {
        public LayerNorm {
            thresholds = Map.copyOf(thresholds);
            thresholds.values().forEach(t -> requirePositive(t, "threshold"));
        }
    }

    /** Scale each parameter's gradient (W, b, RW separately) when its own norm exceeds {@code threshold}. */
    record ParamNorm(double threshold) implements ClipDecision {
        public ParamNorm {
            requirePositive(threshold, "threshold");
        }
    }

    /** Clip every gradient value to [-threshold, threshold]. */
    record Value(double threshold) implements ClipDecision {
        public Value {
            requirePositive(threshold, "threshold");
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
    }

    private static void requirePositive(double v, String name) {
        if (!(v > 0) || Double.isInfinite(v)) {
            throw new IllegalArgumentException(name + " must be a finite number > 0, was " + v);
        }
    }
}
