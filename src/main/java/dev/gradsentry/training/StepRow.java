package dev.gradsentry.training;

import java.util.List;

/**
 * One step of a run's history as it is read back from disk ({@link StepHistory}). Values are stored as 32-bit floats
 * (the loss as a 64-bit one), so a row holds the probe's numbers to about seven significant digits; a norm beyond the
 * float range reads back as infinite. NaN means not measured: the update ratio on steps the probe did not sample, a
 * clip threshold when the decision in force clips no norm, the held-out metric on steps without an evaluation.
 *
 * @param step          0-based index of the step, as an intervention's {@code step}: the steps done before it
 * @param epoch         DL4J's epoch counter
 * @param loss          the minibatch loss
 * @param learningRate  the learning rate of the first trainable layer
 * @param globalNorm    L2 norm of the batch-averaged gradient over all layers
 * @param maxAbs        largest absolute gradient value over all layers
 * @param nonFinite     NaN or infinite gradient values over all layers
 * @param clipThreshold the global-norm clipping threshold in force (NaN when the decision clips no global norm)
 * @param clipped       whether the guard's decision changed this step's gradient (in observe mode: would have)
 * @param heldOut       the held-out metric measured right after this step, NaN when none was
 * @param layers        each layer's values, in the order of {@link StepHistory#layerNames()}
 */
public record StepRow(long step, int epoch, double loss, double learningRate, double globalNorm, double maxAbs,
                      long nonFinite, double clipThreshold, boolean clipped, double heldOut, List<Layer> layers) {

    public StepRow {
        layers = List.copyOf(layers);
    }

    /**
     * One layer's values in a row.
     *
     * @param clipThreshold the layer's own clipping threshold in force (NaN when the decision has none for it)
     */
    public record Layer(double norm, double maxAbs, long nonFinite, double updateRatio, double clipThreshold) {
    }

    StepRow withHeldOut(double value) {
        return new StepRow(step, epoch, loss, learningRate, globalNorm, maxAbs, nonFinite, clipThreshold, clipped,
                value, layers);
    }
}
