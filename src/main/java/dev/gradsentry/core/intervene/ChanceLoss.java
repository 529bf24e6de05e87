package dev.gradsentry.core.intervene;

import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.layers.BaseOutputLayer;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.activations.impl.ActivationSoftmax;
import org.nd4j.linalg.lossfunctions.impl.LossMCXENT;
import org.nd4j.linalg.lossfunctions.impl.LossNegativeLogLikelihood;

/**
 * The loss of a classifier that has learned nothing: for a softmax output with cross-entropy over C classes, a
 * uniform guess scores {@code ln(C)}. A run that sits there after a blow-up is dead, however calm its gradients.
 */
final class ChanceLoss {

    private ChanceLoss() {
    }

    /** {@code ln(classes)} of the network's single softmax cross-entropy output; NaN for any other network. */
    static double of(Model model) {
        Layer out = null;
        if (model instanceof MultiLayerNetwork net && net.getLayers() != null && net.getLayers().length > 0) {
            out = net.getLayers()[net.getLayers().length - 1].conf().getLayer();
        } else if (model instanceof ComputationGraph graph && graph.getNumOutputArrays() == 1) {
            String name = graph.getConfiguration().getNetworkOutputs().get(0);
            out = graph.getLayer(name) == null ? null : graph.getLayer(name).conf().getLayer();
        }
        if (out instanceof BaseOutputLayer o && o.getActivationFn() instanceof ActivationSoftmax && o.getNOut() > 1
                && (o.getLossFn() instanceof LossMCXENT || o.getLossFn() instanceof LossNegativeLogLikelihood)) {
            return Math.log(o.getNOut());
        }
        return Double.NaN;
    }
}
