package dev.gradsentry.core.probe;

import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.api.Updater;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.updater.UpdaterCreator;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.Arrays;

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
        Updater u = updater(model);
        // DL4J makes a network's updater on its first step (and the first step calls the listeners before it makes
        // it). A state captured before then must still hold the updater's starting state (momentum zero, ...):
        // without it, a rollback or skip back to it kept the momentum the undone step built from its raw gradient,
        // NaN or 1e9. A new updater, not attached to the network, starts in exactly that state.
        INDArray state = u != null ? u.getStateViewArray() : UpdaterCreator.getUpdater(model).getStateViewArray();
        return new NetworkState(model.params().dup(), state == null ? null : state.dup(), iterationCount(model));
    }

    /**
     * Copies the state in {@code iterationDone}, after the update: DL4J has not yet incremented the iteration
     * counter, so the next step carries the current count plus one.
     */
    public static NetworkState captureAfterUpdate(Model model) {
        return captureAfterUpdate(model, null);
    }

    /**
     * {@link #captureAfterUpdate(Model)}, copying into the arrays of {@code spare} where they fit instead of new
     * ones: a native allocation per copy showed in the guard's profile (a guard keeps a copy every 50 healthy steps).
     * {@code spare} must be a state nobody will read again; it is overwritten.
     */
    public static NetworkState captureAfterUpdate(Model model, NetworkState spare) {
        INDArray params = model.params();
        Updater u = updater(model);
        INDArray state = u == null ? null : u.getStateViewArray();
        int next = iterationCount(model) + 1;
        if (spare != null && fits(spare.params, params) && (state == null ? spare.updaterState == null
                : fits(spare.updaterState, state))) {
            spare.params.assign(params);
            if (state != null) {
                spare.updaterState.assign(state);
            }
            return new NetworkState(spare.params, spare.updaterState, next);
        }
        return new NetworkState(params.dup(), state == null ? null : state.dup(), next);
    }

    private static boolean fits(INDArray into, INDArray from) {
        return into != null && into.dataType() == from.dataType() && into.length() == from.length()
                && Arrays.equals(into.shape(), from.shape());
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

    /** The network's layers, in DL4J's order; none for a model that is neither kind of network. */
    public static Layer[] layersOf(Model model) {
        Layer[] layers = model instanceof MultiLayerNetwork net ? net.getLayers()
                : model instanceof ComputationGraph graph ? graph.getLayers() : new Layer[0];
        if (layers == null) {
            // DL4J makes the layers in init(); without this a guard attached first failed with a bare NPE
            throw new IllegalStateException(model.getClass().getSimpleName() + " has no layers yet: call its init() "
                    + "before Guard.protect or GradientProbe.attach");
        }
        return layers;
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
