package dev.gradsentry.core.probe;

import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.api.Updater;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A copy of everything a training step changes in a DL4J network: the parameters, the updater's state (momentum,
 * Adam moments) and the iteration counter the updater reads. Restoring it makes the network bitwise the network it
 * was when the copy was taken.
 *
 * @param nextIteration the iteration number the network's next step will carry
 */
public record NetworkState(INDArray params, INDArray updaterState, int nextIteration) {

    /**
     * Copies the state of a network between steps, or inside a step before the updater ran (the step's own
     * iteration then comes next again).
     */
    public static NetworkState capture(Model model) {
        INDArray state = updater(model) == null ? null : updater(model).getStateViewArray();
        return new NetworkState(model.params().dup(), state == null ? null : state.dup(), iterationCount(model));
    }

    /**
     * Copies the state in {@code iterationDone}, after the update: DL4J has not yet incremented the iteration
     * counter, so the next step carries the current count plus one.
     */
    public static NetworkState captureAfterUpdate(Model model) {
        NetworkState s = capture(model);
        return new NetworkState(s.params(), s.updaterState(), s.nextIteration() + 1);
    }

    /**
     * Writes this state back into the network. Called inside {@code iterationDone}, after which DL4J increments the
     * iteration counter once more, so the counter is set one below {@link #nextIteration()}.
     */
    void restoreInIterationDone(Model model) {
        model.params().assign(params);
        Updater u = updater(model);
        if (u != null && u.getStateViewArray() != null && updaterState != null) {
            u.getStateViewArray().assign(updaterState);
        }
        setIterationCount(model, nextIteration - 1);
    }

    private static Updater updater(Model model) {
        if (model instanceof MultiLayerNetwork net) {
            return net.getUpdater(false);
        }
        if (model instanceof ComputationGraph graph) {
            return graph.getUpdater(false);
        }
        return null;
    }

    static int iterationCount(Model model) {
        if (model instanceof MultiLayerNetwork net) {
            return net.getIterationCount();
        }
        if (model instanceof ComputationGraph graph) {
            return graph.getIterationCount();
        }
        return 0;
    }

    private static void setIterationCount(Model model, int count) {
        if (model instanceof MultiLayerNetwork net) {
            net.setIterationCount(count);
        } else if (model instanceof ComputationGraph graph) {
            graph.getConfiguration().setIterationCount(count);
        }
    }
}
