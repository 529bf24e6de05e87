package dev.gradsentry.training;

import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;

import java.util.function.ToDoubleFunction;

/**
 * A workload made concrete for one spec: the initialised network, its training batches and how to evaluate it.
 *
 * @param network    initialised, seeded network
 * @param train      training batches in seed order
 * @param metric     name of the evaluation metric ({@code accuracy} or {@code mse})
 * @param evaluator  computes the metric on the held-out examples
 */
public record TrainingSetup(MultiLayerNetwork network, BatchStream train, String metric,
                            ToDoubleFunction<MultiLayerNetwork> evaluator) {

    public Evaluation evaluate(long step) {
        return new Evaluation(metric, evaluator.applyAsDouble(network), step);
    }
}
