package dev.gradsentry.core.probe;

import org.nd4j.linalg.learning.config.IUpdater;
import org.nd4j.linalg.learning.regularization.L2Regularization;
import org.nd4j.linalg.learning.regularization.Regularization;
import org.nd4j.linalg.learning.regularization.WeightDecay;

import java.util.List;

/**
 * The share of a layer's weights its regularization takes away per step, pulling them towards zero.
 *
 * <p>DL4J's {@code weightDecay(c)} removes {@code lr * c} of the weights after the optimizer ({@code c} alone when
 * it is not scaled by the learning rate); {@code l2(c)} adds {@code c * w} to the gradient, which the optimizer then
 * moves by its gain ({@code lr} for SGD, {@code lr / (1 - mu)} once Nesterov momentum has built up: the pull
 * towards zero keeps its direction, so momentum builds up fully). L1 pulls by a fixed amount, not a share, and an
 * optimizer that normalises the gradient has no gain: neither counts here.
 */
public final class DecayRate {

    private DecayRate() {
    }

    /**
     * @param regularization the layer's regularization of its weights ({@code getRegularizationByParam("W")})
     * @param updater        the weights' optimizer
     * @param stepGain       its {@link StepGain#of gain} at this step; NaN for optimizers that normalise the gradient
     */
    public static double of(List<Regularization> regularization, IUpdater updater, double stepGain, int iteration,
                            int epoch) {
        if (regularization == null) {
            return 0;
        }
        double rate = 0;
        for (Regularization r : regularization) {
            if (r instanceof WeightDecay w) {
                double coeff = w.getCoeff().valueAt(iteration, epoch);
                rate += w.isApplyLR() ? coeff * updater.getLearningRate(iteration, epoch) : coeff;
            } else if (r instanceof L2Regularization l2 && Double.isFinite(stepGain)) {
                rate += l2.getL2().valueAt(iteration, epoch) * stepGain;
            }
        }
        return rate;
    }
}
