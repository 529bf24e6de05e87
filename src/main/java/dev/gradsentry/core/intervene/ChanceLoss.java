package dev.gradsentry.core.intervene;

import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.api.layers.IOutputLayer;
import org.deeplearning4j.nn.conf.layers.BaseOutputLayer;
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
 * <p>DL4J scores a sequence output (an {@code RnnOutputLayer}) per example, summed over its labelled time steps, so
 * a sequence labeller that has learned a lot still scores far above {@code ln(C)}; {@link #perLabel(double)} divides
 * the step's loss by the labelled time steps per example to make the two comparable again.
 */
final class ChanceLoss {

    private static final ChanceLoss UNKNOWN = new ChanceLoss(Double.NaN, null);

    private final double perLabel;
    /** The classifier's output layer, whose labels (and their mask) say how many labels each example's loss sums. */
    private final Layer output;

    private ChanceLoss(double perLabel, Layer output) {
        this.perLabel = perLabel;
        this.output = output;
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
            return new ChanceLoss(Math.log(o.getNOut()), out);
        }
        return UNKNOWN;
    }

    /** {@code ln(classes)}: a uniform guess's cross-entropy for one label; NaN for a network that is no classifier. */
    double perLabel() {
        return perLabel;
    }

    /**
     * The step's loss per label: as it is for one label per example, divided by the labelled time steps per example
     * for a sequence output (its mask's, where it has one); unchanged when the chance level is unknown. Read while
     * the step's labels are on the output layer (before its update).
     */
    double perLabel(double loss) {
        INDArray labels = output instanceof IOutputLayer o ? o.getLabels() : null;
        if (labels == null || labels.rank() != 3) {
            return loss;
        }
        INDArray mask = output.getMaskArray();
        double steps = mask == null ? labels.size(2) : mask.sumNumber().doubleValue() / labels.size(0);
        return steps > 0 ? loss / steps : Double.NaN;
    }

    /** Whether the output is a sequence's: the loss {@link #perLabel(double)} gives is per labelled time step. */
    boolean sequence() {
        return output instanceof IOutputLayer o && o.getLabels() != null && o.getLabels().rank() == 3;
    }
}
