package dev.gradsentry.core.intervene;

import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.api.layers.IOutputLayer;
import org.deeplearning4j.nn.conf.layers.BaseOutputLayer;
import org.deeplearning4j.nn.conf.layers.RnnOutputLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.activations.impl.ActivationSoftmax;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.lossfunctions.impl.LossMCXENT;
import org.nd4j.linalg.lossfunctions.impl.LossNegativeLogLikelihood;

/**
 * The loss of a classifier that has learned nothing: for a softmax output with cross-entropy over C classes, a
 * uniform guess scores {@code ln(C)} per label. A run that sits there after a blow-up is dead, however calm its
 * gradients.
 *
 * <p>DL4J's score is not that loss per label: it adds the weights' regularisation penalty, and it scores a sequence
 * output (an {@code RnnOutputLayer}) per example, summed over its labelled time steps, so a classifier that has learned
 * a lot can still score above {@code ln(C)}; {@link #perLabel(double)} takes the penalty off and divides by the
 * labelled time steps per example to make the two comparable again.
 */
final class ChanceLoss {

    private static final ChanceLoss UNKNOWN = new ChanceLoss(Double.NaN, null, false);

    private final double perLabel;
    private final Model model;
    /** The output is an {@code RnnOutputLayer}: DL4J sums its loss over each example's labelled time steps. */
    private final boolean sequence;

    private ChanceLoss(double perLabel, Model model, boolean sequence) {
        this.perLabel = perLabel;
        this.model = model;
        this.sequence = sequence;
    }

    /** For the network's single softmax cross-entropy output; {@link #perLabel()} is NaN for any other network. */
    static ChanceLoss of(Model model) {
        Layer out = null;
        if (model instanceof MultiLayerNetwork net && net.getLayers() != null && net.getLayers().length > 0) {
            out = net.getLayers()[net.getLayers().length - 1];
        } else if (model instanceof ComputationGraph graph && graph.getNumOutputArrays() == 1) {
            out = graph.getLayer(graph.getConfiguration().getNetworkOutputs().get(0));
        }
        if (out != null && out.conf().getLayer() instanceof BaseOutputLayer o
                && o.getActivationFn() instanceof ActivationSoftmax && o.getNOut() > 1
                && (o.getLossFn() instanceof LossMCXENT || o.getLossFn() instanceof LossNegativeLogLikelihood)) {
            return new ChanceLoss(Math.log(o.getNOut()), model, o instanceof RnnOutputLayer);
        }
        return UNKNOWN;
    }

    /** {@code ln(classes)}: a uniform guess's cross-entropy for one label; NaN for a network that is no classifier. */
    double perLabel() {
        return perLabel;
    }

    /**
     * The step's loss per label, without the regularisation penalty: as it is for one label per example; for a
     * sequence output, divided by the labelled time steps per example (NaN, so not judged, when they cannot be told);
     * unchanged when the chance level is unknown. Read during the step, before the update, while the network still
     * holds its labels (or their mask) and the weights the penalty was computed on.
     */
    double perLabel(double loss) {
        if (model == null) {
            return loss;
        }
        double data = loss - penalty();
        if (!sequence) {
            return data;
        }
        double steps = labelledSteps();
        return steps > 0 ? data / steps : Double.NaN;
    }

    /**
     * The regularisation penalty (L1, L2, weight decay) DL4J adds to the score: a uniform guess's {@code ln(C)} is
     * of the data loss alone, and a classifier with a strong L2 penalty scored above it after learning. Nothing to
     * compute for parameters without regularisation.
     */
    private double penalty() {
        return model instanceof MultiLayerNetwork net ? net.calcRegularizationScore(true)
                : ((ComputationGraph) model).calcRegularizationScore(true);
    }

    /** Whether the output is a sequence's: the loss {@link #perLabel(double)} gives is per labelled time step. */
    boolean sequence() {
        return sequence;
    }

    /** This step's labelled time steps per example: its label mask's where it has one, else the sequence length. */
    private double labelledSteps() {
        INDArray mask;
        INDArray sequences;
        if (model instanceof MultiLayerNetwork net) {
            mask = net.getOutputLayer().getMaskArray(); // reshaped by the layer: one entry per example and step
            sequences = net.getOutputLayer() instanceof IOutputLayer o ? o.getLabels() : null;
        } else {
            // A graph has let go of its output layer's labels by the time the probe is called, but not of their
            // mask; a sequence output is as long as its input, for the usual graph of one input.
            ComputationGraph graph = (ComputationGraph) model;
            INDArray[] masks = graph.getLabelMaskArrays();
            mask = masks == null || masks.length == 0 ? null : masks[0];
            sequences = graph.getNumInputArrays() == 1 ? graph.getInput(0) : null;
        }
        if (sequences == null || sequences.rank() != 3) {
            return Double.NaN;
        }
        return mask == null ? sequences.size(2) : mask.sumNumber().doubleValue() / sequences.size(0);
    }
}
