package dev.gradsentry.core.probe;

import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.api.layers.IOutputLayer;
import org.deeplearning4j.nn.api.layers.RecurrentLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.lang.reflect.Field;
import java.util.HashMap;
import java.util.Map;

/**
 * The minibatch a network is training on, as DL4J holds it while a step is in flight: the features, labels and masks
 * set on the network (a layer network's label mask on its output layer), under truncated BPTT the current segment's.
 */
final class TrainingBatch {

    /** See {@link #labels(ComputationGraph)}. */
    private static final Field GRAPH_LABELS = graphLabelsField();

    private TrainingBatch() {
    }

    /**
     * NaN and infinite values in the batch's features, labels and masks: one pass over each array, so the probe asks
     * only when the step's loss or gradient is not finite.
     */
    static long nonFiniteValues(Model m) {
        long n = 0;
        if (m instanceof MultiLayerNetwork net) {
            n += count(net.getInput()) + count(net.getMask()) + count(net.getLabels());
            if (net.getOutputLayer() instanceof IOutputLayer out) {
                n += count(out.getMaskArray());
            }
        } else if (m instanceof ComputationGraph graph) {
            n += count(graph.getInputs()) + count(graph.getInputMaskArrays()) + count(graph.getLabelMaskArrays())
                    + count(labels(graph));
        }
        return n;
    }

    /**
     * The labels set on a graph. DL4J 1.0.0-M2.1's {@code ComputationGraph} has no getter for them, and its output
     * layers no longer hold them once the gradient is computed (measured: a NaN label went unseen), so the field is
     * read directly; null if this DL4J has no such field.
     */
    private static INDArray[] labels(ComputationGraph graph) {
        if (GRAPH_LABELS == null) {
            return null;
        }
        try {
            return (INDArray[]) GRAPH_LABELS.get(graph);
        } catch (IllegalAccessException e) {
            return null;
        }
    }

    private static Field graphLabelsField() {
        try {
            Field f = ComputationGraph.class.getDeclaredField("labels");
            f.setAccessible(true);
            return f.getType() == INDArray[].class ? f : null;
        } catch (NoSuchFieldException | RuntimeException e) {
            return null;
        }
    }

    /**
     * Forgets the state a recurrent layer carries into the next segment of the same sequences (truncated BPTT) where
     * it is no longer finite: a batch with a NaN in one segment leaves NaN there, and every later segment of the same
     * sequences would start from it, with finite data and finite weights, and be taken for broken weights (measured:
     * a NaN in the first of four segments gave one skip and then three rollbacks, each halving the learning rate).
     * The next segment starts from a zero state instead, as the sequences' first segment does.
     */
    static void forgetNonFiniteCarriedState(Model m) {
        for (Layer layer : NetworkState.layersOf(m)) {
            if (layer instanceof RecurrentLayer recurrent) {
                Map<String, INDArray> carried = recurrent.rnnGetTBPTTState();
                if (carried != null && carried.values().stream().anyMatch(a -> count(a) > 0)) {
                    recurrent.rnnSetTBPTTState(new HashMap<>());
                }
            }
        }
    }

    private static long count(INDArray[] arrays) {
        long n = 0;
        if (arrays != null) {
            for (INDArray a : arrays) {
                n += count(a);
            }
        }
        return n;
    }

    private static long count(INDArray a) {
        if (a == null || a.isEmpty() || !a.dataType().isFPType()) {
            return 0;
        }
        return GradientProbe.nonFiniteValues(a);
    }
}
