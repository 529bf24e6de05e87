package dev.gradsentry.training;

import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.dataset.api.preprocessor.DataNormalization;

import java.util.function.ToDoubleFunction;

/**
 * A workload made concrete for one spec: the initialised network, its training batches and how to evaluate it.
 *
 * @param network    initialised, seeded network
 * @param train      training batches in seed order, normalized when {@code normalizer} is set
 * @param metric     name of the evaluation metric ({@code accuracy} or {@code mse})
 * @param evaluator  computes the metric on the held-out examples
 * @param normalizer fitted on the training data and applied to every batch, saved with each checkpoint; null for
 *                   data that needs none
 */
public record TrainingSetup(Network network, BatchStream train, String metric, ToDoubleFunction<Network> evaluator,
                            DataNormalization normalizer) {

    /** A built-in workload's setup: a multi-layer network on data that needs no normalizer. */
    public TrainingSetup(MultiLayerNetwork network, BatchStream train, String metric,
                         ToDoubleFunction<MultiLayerNetwork> evaluator) {
        this(new Network.Layers(network), train, metric,
                n -> evaluator.applyAsDouble(((Network.Layers) n).net()), null);
    }

    public Evaluation evaluate(long step) {
        return new Evaluation(metric, evaluator.applyAsDouble(network), step);
    }
}
