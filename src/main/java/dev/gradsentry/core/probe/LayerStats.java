package dev.gradsentry.core.probe;

import java.util.List;

/**
 * Gradient statistics of one layer for one step.
 *
 * @param layer       stable, human-readable layer name ({@code 0_dense}, {@code 1_lstm}; the vertex name in a graph)
 * @param norm        L2 norm of the layer's batch-averaged gradient over all its parameters
 * @param maxAbs      largest absolute batch-averaged gradient value in the layer
 * @param nonFinite   number of NaN or infinite gradient values in the layer
 * @param updateRatio L2 norm of the update the updater applied divided by the L2 norm of the layer's parameters
 *                    after the update; NaN on steps where it is not sampled (see
 *                    {@link GradientProbe#updateRatioEvery}) and for layers whose parameters are all zero
 * @param params      per-parameter statistics in DL4J's parameter order
 * @param paramNorm   L2 norm of the layer's parameters before this step's update; NaN where not measured (the
 *                    probe measures it when a guard reads the step)
 * @param stepGain    how far the layer's optimizer moves its parameters per unit of batch-averaged gradient at this
 *                    step once momentum has built up (see {@link StepGain#of}); NaN for optimizers that normalise the
 *                    gradient (Adam, RMSProp, ...)
 * @param firstStepGain the same for one step taken with no velocity built up ({@link StepGain#firstStep}): equal to
 *                    {@code stepGain} for SGD, {@code (1 + mu) / (1 - mu)} times smaller for Nesterov momentum
 */
public record LayerStats(String layer, double norm, double maxAbs, long nonFinite, double updateRatio,
                         List<ParamStats> params, double paramNorm, double stepGain,
                         double firstStepGain) {
    public LayerStats {
        if (layer == null || layer.isEmpty()) {
            throw new IllegalArgumentException("layer must be a non-empty name");
        }
        params = List.copyOf(params);
    }

    /** Gradient statistics alone: parameter norm and step gain not measured. */
    public LayerStats(String layer, double norm, double maxAbs, long nonFinite, double updateRatio,
                      List<ParamStats> params) {
        this(layer, norm, maxAbs, nonFinite, updateRatio, params, Double.NaN, Double.NaN, Double.NaN);
    }

    LayerStats withUpdateRatio(double ratio) {
        return new LayerStats(layer, norm, maxAbs, nonFinite, ratio, params, paramNorm, stepGain, firstStepGain);
    }

    /**
     * The update/parameter ratio this step's gradient would give before any clipping, when the optimizer's update is
     * proportional to the gradient: {@code stepGain * norm / paramNorm}; NaN when it is not or nothing was measured.
     */
    public double predictedUpdateRatio() {
        return stepGain * norm / paramNorm;
    }

    /** {@link #predictedUpdateRatio()} for a step taken with no momentum built up: {@code firstStepGain * norm /
     * paramNorm}. */
    public double firstStepRatio() {
        return firstStepGain * norm / paramNorm;
    }

    /** The statistics of parameter {@code key}, or null if this layer has no such parameter. */
    public ParamStats param(String key) {
        for (ParamStats p : params) {
            if (p.param().equals(key)) {
                return p;
            }
        }
        return null;
    }
}
