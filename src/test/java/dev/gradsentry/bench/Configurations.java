package dev.gradsentry.bench;

import dev.gradsentry.bench.StabilityConfig.Half;
import dev.gradsentry.bench.StabilityConfig.Recipe;
import dev.gradsentry.bench.StabilityConfig.Row;
import dev.gradsentry.training.FashionMnist;
import dev.gradsentry.training.RunSpec;
import dev.gradsentry.training.TrainingSetup;
import dev.gradsentry.training.WorkloadKind;
import dev.gradsentry.training.Workloads;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.learning.config.IUpdater;

import java.util.function.DoubleFunction;
import java.util.function.LongFunction;
import java.util.function.ToDoubleFunction;

/**
 * The stability benchmark's configurations: how each is built and judged. Which of them a run trains, with which
 * contenders and seeds, is {@link StabilityBench}'s plan.
 */
final class Configurations {

    /** Examples per batch on Fashion-MNIST, as the service's workloads use. */
    static final int FASHION_BATCH = 128;
    /** Examples per batch on the sequence tasks. */
    static final int SEQUENCE_BATCH = 64;
    /** Held-out examples of each periodic evaluation. */
    static final int EVAL_EXAMPLES = 1000;
    /** Predicting the mean, 1.0, on the adding problem: the variance of the sum of two U(0, 1), 1/6. */
    static final double ADDING_TRIVIAL_MSE = 1.0 / 6;

    private Configurations() {
    }

    /**
     * A service workload's spec ({@link RunSpec#exploding} or {@link RunSpec#defaults}) as a recipe, with the
     * benchmark's batch size and, for the adding problem, sequence length.
     */
    static Recipe spec(RunSpec base, int batchSize, int sequenceLength) {
        return new Recipe() {
            @Override
            public TrainingSetup prepare(BenchData data, long seed) {
                return data.workloads().prepare(new RunSpec(base.workload(), base.cell(), base.activation(),
                        base.recurrentGain(), base.hidden(), base.optimizer(), base.learningRate(), batchSize,
                        base.steps(), seed, base.evalInterval(), EVAL_EXAMPLES, sequenceLength));
            }

            @Override
            public ToDoubleFunction<MultiLayerNetwork> finalEvaluator(BenchData data) {
                if (base.workload() == WorkloadKind.ADDING) {
                    return null;
                }
                DataSet test = data.fashionTest(base.workload() == WorkloadKind.FASHION_RNN);
                return net -> Workloads.accuracy(net, test);
            }
        };
    }

    /** A deep MLP of {@link BenchNetworks#mlp} on flat Fashion-MNIST images. */
    static Recipe deepMlp(int depth, int width, Activation activation, DoubleFunction<IUpdater> updater,
                          double learningRate) {
        return onFashion(false, seed -> BenchNetworks.mlp(seed, FashionMnist.PIXELS, depth, width, activation,
                FashionMnist.CLASSES, updater.apply(learningRate)));
    }

    /** A batch-normalised MLP of {@link BenchNetworks#batchNormMlp} on flat Fashion-MNIST images. */
    static Recipe batchNormMlp(int depth, int width, DoubleFunction<IUpdater> updater, double learningRate) {
        return onFashion(false, seed -> BenchNetworks.batchNormMlp(seed, FashionMnist.PIXELS, depth, width,
                FashionMnist.CLASSES, updater.apply(learningRate)));
    }

    /** A plain RNN of {@link BenchNetworks#rnn} on the {@link RecallTask}; held-out sequences drawn per seed. */
    static Recipe recall(int classes, int length, int hidden, Activation activation, double gain,
                         DoubleFunction<IUpdater> updater, double learningRate) {
        return (data, seed) -> {
            MultiLayerNetwork net = BenchNetworks.rnn(seed, classes, hidden, activation, gain, classes,
                    updater.apply(learningRate));
            RecallTask task = new RecallTask(classes, length, SEQUENCE_BATCH, seed);
            DataSet held = task.heldOut(seed, EVAL_EXAMPLES);
            return new TrainingSetup(net, task, "accuracy", n -> Workloads.accuracy(n, held));
        };
    }

    /** A plain RNN of {@link BenchNetworks#rnn} on Fashion-MNIST read row by row. */
    static Recipe fashionRnn(int hidden, Activation activation, double gain, DoubleFunction<IUpdater> updater,
                             double learningRate) {
        return onFashion(true, seed -> BenchNetworks.rnn(seed, FashionMnist.COLS, hidden, activation, gain,
                FashionMnist.CLASSES, updater.apply(learningRate)));
    }

    /**
     * The network {@code build} makes from a seed, trained and judged on Fashion-MNIST: flat images, or read row by
     * row when {@code rows}.
     */
    private static Recipe onFashion(boolean rows, LongFunction<MultiLayerNetwork> build) {
        return new Recipe() {
            @Override
            public TrainingSetup prepare(BenchData data, long seed) {
                MultiLayerNetwork net = build.apply(seed);
                DataSet held = FashionStream.heldOut(data.fashion(), EVAL_EXAMPLES, rows);
                return new TrainingSetup(net, new FashionStream(data.fashion(), FASHION_BATCH, rows, seed),
                        "accuracy", n -> Workloads.accuracy(n, held));
            }

            @Override
            public ToDoubleFunction<MultiLayerNetwork> finalEvaluator(BenchData data) {
                DataSet test = data.fashionTest(rows);
                return net -> Workloads.accuracy(net, test);
            }
        };
    }

    static StabilityConfig accuracy(String name, Row row, Half half, String model, Recipe recipe, long steps,
                                    int evalEvery, double target, int classes, Trouble trouble, double msPerStep) {
        return new StabilityConfig(name, row, half, model, recipe, steps, evalEvery, true, target, 1.0 / classes,
                trouble, msPerStep);
    }

    static StabilityConfig adding(String name, Row row, Half half, String model, Recipe recipe, long steps,
                                  int evalEvery, double target, Trouble trouble, double msPerStep) {
        return new StabilityConfig(name, row, half, model, recipe, steps, evalEvery, false, target,
                ADDING_TRIVIAL_MSE, trouble, msPerStep);
    }
}
