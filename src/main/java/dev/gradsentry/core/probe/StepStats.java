package dev.gradsentry.core.probe;

import java.util.List;

/**
 * Everything the probe measured for one training step (one DL4J iteration), immutable.
 *
 * <p>All gradient norms are of the <em>batch-averaged</em> gradient: DL4J's backward pass produces gradients summed
 * over the minibatch and its updater divides them by the batch size before clipping and before the optimizer. The
 * probe applies the same division, so its norms are on the same scale as DL4J's own
 * {@code GradientNormalization} thresholds and as the per-example loss.
 *
 * @param iteration    DL4J's iteration counter for this step (0-based, counts every fit call)
 * @param epoch        DL4J's epoch counter
 * @param batchSize    examples in the minibatch
 * @param loss         the minibatch loss (score) DL4J computed with the gradient
 * @param learningRate learning rate of the first trainable layer at this iteration, NaN if its updater has none
 * @param globalNorm   L2 norm over every parameter's batch-averaged gradient
 * @param maxAbs       largest absolute gradient value over all layers
 * @param nonFinite    number of NaN or infinite gradient values over all layers
 * @param layers       per-layer statistics, in the network's parameter order
 * @param nonFiniteData number of NaN or infinite values in the minibatch itself (features, labels and their masks),
 *                     counted only on a step whose loss or gradient is not finite (0 on every other step): only then
 *                     does it matter whether the batch or the weights went wrong, and it costs a pass over the batch
 */
public record StepStats(long iteration, int epoch, int batchSize, double loss, double learningRate,
                        double globalNorm, double maxAbs, long nonFinite, List<LayerStats> layers,
                        long nonFiniteData) {
    public StepStats {
        layers = List.copyOf(layers);
    }

    /** A step whose minibatch was not checked (or held only finite values). */
    public StepStats(long iteration, int epoch, int batchSize, double loss, double learningRate, double globalNorm,
                     double maxAbs, long nonFinite, List<LayerStats> layers) {
        this(iteration, epoch, batchSize, loss, learningRate, globalNorm, maxAbs, nonFinite, layers, 0);
    }

    /** True when the loss and every gradient value were finite. */
    public boolean finite() {
        return nonFinite == 0 && Double.isFinite(loss);
    }

    /** The statistics of layer {@code name}, or null if the network has no such layer. */
    public LayerStats layer(String name) {
        for (LayerStats l : layers) {
            if (l.layer().equals(name)) {
                return l;
            }
        }
        return null;
    }
}
