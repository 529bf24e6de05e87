package dev.gradsentry.core.clip;

import dev.gradsentry.core.probe.LayerStats;
import dev.gradsentry.core.probe.ParamStats;
import dev.gradsentry.core.probe.StepStats;

import java.util.List;

/** Synthetic probe measurements for the policy tests. */
final class Steps {

    private Steps() {
    }

    /** A step of a two-layer network whose global norm is {@code globalNorm}, split evenly over the layers. */
    static StepStats step(long iteration, double globalNorm) {
        double layerNorm = globalNorm / Math.sqrt(2);
        double paramNorm = layerNorm / Math.sqrt(2);
        return new StepStats(iteration, 0, 32, 0.5, 0.1, globalNorm, paramNorm, 0, List.of(
                layer("0_dense", layerNorm, paramNorm),
                layer("1_output", layerNorm, paramNorm)));
    }

    private static LayerStats layer(String name, double norm, double paramNorm) {
        return new LayerStats(name, norm, paramNorm, 0, Double.NaN,
                List.of(new ParamStats("W", paramNorm, 0), new ParamStats("b", paramNorm, 0)));
    }
}
