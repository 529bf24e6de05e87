package dev.gradsentry.core.probe;

import org.nd4j.linalg.learning.config.IUpdater;
import org.nd4j.linalg.learning.config.Nesterovs;
import org.nd4j.linalg.learning.config.NoOp;
import org.nd4j.linalg.learning.config.Sgd;

/**
 * How far an optimizer moves the parameters per unit of batch-averaged gradient: the factor that turns a bound on
 * the update into a bound on the gradient.
 *
 * <p>Plain SGD subtracts {@code lr * g}: the gain is the learning rate. DL4J's Nesterov momentum keeps a velocity
 * {@code v = mu * v - lr * g}; with a gradient that keeps its direction the update settles at {@code lr * g / (1 - mu)},
 * so that is the gain (ten times the learning rate at the usual mu = 0.9): the step a run takes once momentum has
 * built up, which is what bounds the damage of a run of large gradients. Adam, AdaMax, Nadam, AMSGrad, RMSProp,
 * AdaGrad and AdaDelta divide the gradient by a running estimate of its own scale, so the size of their update does
 * not follow the size of the gradient: no gain exists and clipping the gradient does not bound their update.
 *
 * <p>{@link #firstStep} is the gain of one step taken with no velocity built up: {@code lr} for SGD, {@code (1 + mu) *
 * lr} for Nesterov momentum. It answers "would this step alone move the weights too far?", while {@link #of} bounds
 * the step that momentum can build up to.
 */
public final class StepGain {

    private StepGain() {
    }

    /** The gain of {@code updater} at this iteration; NaN for optimizers that normalise the gradient. */
    public static double of(IUpdater updater, int iteration, int epoch) {
        if (updater instanceof Sgd sgd) {
            return sgd.getLearningRate(iteration, epoch);
        }
        if (updater instanceof Nesterovs n) {
            double mu = n.currentMomentum(iteration, epoch);
            return mu < 1 ? n.getLearningRate(iteration, epoch) / (1 - mu) : Double.NaN;
        }
        if (updater instanceof NoOp) {
            return 0;
        }
        return Double.NaN;
    }

    /** The gain of one step from zero velocity; NaN for optimizers that normalise the gradient. */
    public static double firstStep(IUpdater updater, int iteration, int epoch) {
        if (updater instanceof Nesterovs n) {
            double mu = n.currentMomentum(iteration, epoch);
            return mu < 1 ? n.getLearningRate(iteration, epoch) * (1 + mu) : Double.NaN;
        }
        return of(updater, iteration, epoch);
    }
}
