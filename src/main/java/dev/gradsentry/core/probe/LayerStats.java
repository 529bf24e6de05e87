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
 * @param appliedNorm the L2 norm of the batch-averaged gradient DL4J's updater goes on to apply once the layer's own
 *                    {@code GradientNormalization} (the network's configuration, applied after the probe) has acted:
 *                    {@link #norm} without one, at most the threshold under {@code ClipL2PerLayer}, the norm of the
 *                    clipped values under {@code ClipElementWiseAbsoluteValue}; NaN under {@code RenormalizeL2PerLayer}
 *                    and {@code RenormalizeL2PerParamType}, which rescale the gradient to unit norm whatever it was, so
 *                    that scaling it beforehand changes nothing (see {@link #clippable()})
 * @param decayRate   the share of the layer's weights its regularization (weight decay, L2) takes away per step once
 *                    momentum has built up ({@link DecayRate}); 0 without, or where not measured
 */
public record LayerStats(String layer, double norm, double maxAbs, long nonFinite, double updateRatio,
                         List<ParamStats> params, double paramNorm, double stepGain,
                         double firstStepGain, double appliedNorm, double decayRate) {
    public LayerStats {
        if (layer == null || layer.isEmpty()) {
            throw new IllegalArgumentException("layer must be a non-empty name");
        }
        params = List.copyOf(params);
    }

    /** Gradient statistics alone, of a layer without gradient normalization: parameter norm and step gain not
     * measured (the probe measures them when a guard reads the step). */
    public LayerStats(String layer, double norm, double maxAbs, long nonFinite, double updateRatio,
                      List<ParamStats> params) {
        this(layer, norm, maxAbs, nonFinite, updateRatio, params, Double.NaN, Double.NaN, Double.NaN, norm, 0);
    }

    /** Statistics of a layer without gradient normalization: DL4J applies the gradient as measured. */
    public LayerStats(String layer, double norm, double maxAbs, long nonFinite, double updateRatio,
                      List<ParamStats> params, double paramNorm, double stepGain, double firstStepGain) {
        this(layer, norm, maxAbs, nonFinite, updateRatio, params, paramNorm, stepGain, firstStepGain, norm, 0);
    }

    /** Statistics of a layer without regularization that pulls its weights to zero. */
    public LayerStats(String layer, double norm, double maxAbs, long nonFinite, double updateRatio,
                      List<ParamStats> params, double paramNorm, double stepGain, double firstStepGain,
                      double appliedNorm) {
        this(layer, norm, maxAbs, nonFinite, updateRatio, params, paramNorm, stepGain, firstStepGain, appliedNorm,
                0);
    }

    LayerStats withUpdateRatio(double ratio) {
        return new LayerStats(layer, norm, maxAbs, nonFinite, ratio, params, paramNorm, stepGain, firstStepGain,
                appliedNorm, decayRate);
    }

    /**
     * The update/parameter ratio this step's gradient would give before any clipping, when the optimizer's update is
     * proportional to the gradient: {@code stepGain * appliedNorm / paramNorm}; NaN when it is not, when nothing was
     * measured, or when DL4J rescales the layer's gradient to unit norm.
     */
    public double predictedUpdateRatio() {
        return stepGain * appliedNorm / paramNorm;
    }

    /** {@link #predictedUpdateRatio()} for a step taken with no momentum built up: {@code firstStepGain *
     * appliedNorm / paramNorm}. */
    public double firstStepRatio() {
        return firstStepGain * appliedNorm / paramNorm;
    }

    /**
     * Whether scaling this layer's gradient before the updater changes its update: false when DL4J renormalizes it
     * afterwards. A clip of such a layer would be recorded and do nothing, so no policy clips it by its norm.
     */
    public boolean clippable() {
        return !Double.isNaN(appliedNorm);
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
