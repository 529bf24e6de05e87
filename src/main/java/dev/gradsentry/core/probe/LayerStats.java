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
 */
public record LayerStats(String layer, double norm, double maxAbs, long nonFinite, double updateRatio,
                         List<ParamStats> params) {
    public LayerStats {
        if (layer == null || layer.isEmpty()) {
            throw new IllegalArgumentException("layer must be a non-empty name");
        }
        params = List.copyOf(params);
    }

    LayerStats withUpdateRatio(double ratio) {
        return new LayerStats(layer, norm, maxAbs, nonFinite, ratio, params);
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
