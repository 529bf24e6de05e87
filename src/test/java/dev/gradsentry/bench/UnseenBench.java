package dev.gradsentry.bench;

import dev.gradsentry.core.intervene.Guard;
import dev.gradsentry.training.BatchStream;
import dev.gradsentry.training.FashionMnist;
import dev.gradsentry.training.Network;
import dev.gradsentry.training.Workloads;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.graph.ElementWiseVertex;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.Convolution1DLayer;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.GlobalPoolingLayer;
import org.deeplearning4j.nn.conf.layers.LSTM;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.conf.layers.recurrent.LastTimeStep;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.learning.config.IUpdater;
import org.nd4j.linalg.learning.config.Nesterovs;
import org.nd4j.linalg.learning.config.Sgd;
import org.nd4j.linalg.lossfunctions.LossFunctions;
import org.nd4j.linalg.ops.transforms.Transforms;

import java.util.Arrays;
import java.util.Locale;
import java.util.Random;

/**
 * {@code ./bench unseen WORKLOAD OPTIMIZER LR STEPS SEED CONTENDER}: one run of a network the stability plan does not
 * hold, attached the way a new user would, on Fashion-MNIST; prints one {@code RESULT} line. It checks whether the
 * guard's rules carry over to layer kinds and graphs it was never tuned on (an LSTM, 1-D convolutions, an MLP with L2,
 * a residual {@link ComputationGraph}), run by run so that a shell loop can spread a grid over the cores (the
 * command lines are in docs/benchmarks.md, item 19).
 *
 * <p>Workloads: {@code lstm} (LSTM 64 on image rows), {@code conv1d} (two 1-D convolutions of 32, kernel 3, relu,
 * global max pooling, on image rows), {@code mlp-l2} (784-2x256 tanh, L2 1e-3), {@code cg-residual} (784-128 relu,
 * then two relu blocks of 128 added to their input); added in the fifth session, after the guard's rules were set:
 * {@code deep-relu} (784-6x128 relu), {@code elu-mlp} (784-2x256 elu), {@code cnn2d} (a 5x5 convolution of 8 filters,
 * relu, 2x2 max pooling, dense 64 relu, on 28x28 images) and {@code regression} (20 Gaussian inputs, 2x64 tanh, one
 * linear output with squared error, fitting a fixed random teacher {@code 3 * sum(tanh(x A))}). Optimizers
 * {@code sgd}, {@code nesterov} (momentum 0.9) and {@code adam}. Contenders {@code none}, {@code guard}
 * ({@code Guard.protect}) and {@code GRID:THRESHOLD} for a fixed threshold applied alone every step ({@code value},
 * {@code norm}, {@code global-norm}). Accuracy on 2,000 held-out images, or for {@code regression} the mean squared
 * error on 2,000 held-out inputs; the parameters' hash tells bitwise-identical runs apart.
 */
final class UnseenBench {

    private static final int BATCH = 128;
    private static final int HELD_OUT = 2000;

    private UnseenBench() {
    }

    static void main(String[] args) {
        if (args.length != 6) {
            System.err.println("usage: ./bench unseen lstm|conv1d|mlp-l2|cg-residual|deep-relu|elu-mlp|cnn2d|regression "
                    + "sgd|nesterov|adam LR STEPS SEED "
                    + "none|guard|value:T|norm:T|global-norm:T");
            System.exit(2);
        }
        System.out.println(run(args));
    }

    /** One run; its {@code RESULT} line. */
    static String run(String[] args) {
        String workload = args[0];
        double lr = Double.parseDouble(args[2]);
        IUpdater updater = switch (args[1]) {
            case "sgd" -> new Sgd(lr);
            case "nesterov" -> new Nesterovs(lr, 0.9);
            case "adam" -> new Adam(lr);
            default -> throw new IllegalArgumentException("optimizer " + args[1] + ": sgd, nesterov or adam");
        };
        int steps = Integer.parseInt(args[3]);
        long seed = Long.parseLong(args[4]);
        String contender = args[5];
        boolean rows = workload.equals("lstm") || workload.equals("conv1d");
        boolean regression = workload.equals("regression");
        Model model = build(workload, updater, seed);
        Network network = Network.of(model);
        BatchStream train;
        DataSet held;
        if (regression) {
            Teacher teacher = new Teacher(seed);
            held = teacher.batch(HELD_OUT);
            train = teacher;
        } else {
            BenchData data = new BenchData();
            train = new FashionStream(data.fashion(), BATCH, rows, seed);
            held = FashionStream.heldOut(data.fashion(), HELD_OUT, rows);
        }
        StringBuilder events = new StringBuilder();
        int[] count = new int[1];
        if (contender.equals("guard")) {
            Guard guard = model instanceof MultiLayerNetwork m ? Guard.protect(m) : Guard.protect((ComputationGraph) model);
            guard.addListener(i -> {
                if (i.applied()) {
                    count[0]++;
                    events.append(' ').append(i.step()).append(':').append(i.kind()).append('/').append(i.reason());
                }
            });
        } else if (contender.equals("none")) {
            network.attachProbe();
        } else {
            String[] grid = contender.split(":");
            network.attachProbe().updateRatioEvery(0)
                    .intercept(new ClipOnly(Contender.fixed(grid[0], Double.parseDouble(grid[1])).create()));
        }
        String ending = "ok";
        for (int i = 0; i < steps; i++) {
            DataSet batch = train.next();
            try {
                network.fit(batch);
            } catch (RuntimeException e) {
                ending = "stopped: " + e.getClass().getSimpleName(); // a paused guard stops fit
                break;
            }
        }
        INDArray out = model instanceof MultiLayerNetwork m ? m.output(held.getFeatures(), false)
                : ((ComputationGraph) model).outputSingle(false, held.getFeatures());
        double metric = regression ? out.squaredDistance(held.getLabels()) / out.length()
                : Workloads.accuracy(out, held.getLabels());
        return String.format(Locale.ROOT, "RESULT %s %s %s %d %s %s %.4f events %d end %s hash %d%s", workload,
                args[1], args[2], seed, contender, regression ? "mse" : "acc", metric, count[0], ending,
                Arrays.hashCode(model.params().toFloatVector()), events);
    }

    private static Model build(String workload, IUpdater updater, long seed) {
        NeuralNetConfiguration.Builder base = new NeuralNetConfiguration.Builder().seed(seed).dataType(DataType.FLOAT)
                .updater(updater).weightInit(WeightInit.XAVIER);
        int classes = FashionMnist.CLASSES;
        OutputLayer.Builder output = new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(classes)
                .activation(Activation.SOFTMAX);
        return switch (workload) {
            case "lstm" -> network(base.list()
                    .layer(new LastTimeStep(new LSTM.Builder().nIn(FashionMnist.COLS).nOut(64)
                            .activation(Activation.TANH).build()))
                    .layer(output.nIn(64).build())
                    .build());
            case "conv1d" -> network(base.list()
                    .layer(new Convolution1DLayer.Builder().kernelSize(3).nIn(FashionMnist.COLS).nOut(32)
                            .activation(Activation.RELU).build())
                    .layer(new Convolution1DLayer.Builder().kernelSize(3).nIn(32).nOut(32)
                            .activation(Activation.RELU).build())
                    .layer(new GlobalPoolingLayer.Builder(PoolingType.MAX).build())
                    .layer(output.nIn(32).build())
                    .setInputType(InputType.recurrent(FashionMnist.COLS, FashionMnist.COLS))
                    .build());
            case "mlp-l2" -> network(base.l2(1e-3).list()
                    .layer(new DenseLayer.Builder().nIn(FashionMnist.PIXELS).nOut(256).activation(Activation.TANH).build())
                    .layer(new DenseLayer.Builder().nIn(256).nOut(256).activation(Activation.TANH).build())
                    .layer(output.nIn(256).build())
                    .build());
            case "cg-residual" -> {
                ComputationGraphConfiguration conf = base.graphBuilder().addInputs("in")
                        .addLayer("a", relu(FashionMnist.PIXELS), "in")
                        .addLayer("b", relu(128), "a")
                        .addVertex("ab", new ElementWiseVertex(ElementWiseVertex.Op.Add), "a", "b")
                        .addLayer("c", relu(128), "ab")
                        .addVertex("abc", new ElementWiseVertex(ElementWiseVertex.Op.Add), "ab", "c")
                        .addLayer("out", output.nIn(128).build(), "abc")
                        .setOutputs("out").build();
                ComputationGraph graph = new ComputationGraph(conf);
                graph.init();
                yield graph;
            }
            case "deep-relu" -> {
                NeuralNetConfiguration.ListBuilder list = base.list();
                for (int i = 0; i < 6; i++) {
                    list.layer(new DenseLayer.Builder().nIn(i == 0 ? FashionMnist.PIXELS : 128).nOut(128)
                            .activation(Activation.RELU).build());
                }
                yield network(list.layer(output.nIn(128).build()).build());
            }
            case "elu-mlp" -> network(base.list()
                    .layer(new DenseLayer.Builder().nIn(FashionMnist.PIXELS).nOut(256).activation(Activation.ELU).build())
                    .layer(new DenseLayer.Builder().nIn(256).nOut(256).activation(Activation.ELU).build())
                    .layer(output.nIn(256).build())
                    .build());
            case "cnn2d" -> network(base.list()
                    .layer(new ConvolutionLayer.Builder(5, 5).nOut(8).activation(Activation.RELU).build())
                    .layer(new SubsamplingLayer.Builder(SubsamplingLayer.PoolingType.MAX).kernelSize(2, 2).stride(2, 2)
                            .build())
                    .layer(new DenseLayer.Builder().nOut(64).activation(Activation.RELU).build())
                    .layer(output.build())
                    .setInputType(InputType.convolutionalFlat(FashionMnist.ROWS, FashionMnist.COLS, 1))
                    .build());
            case "regression" -> network(base.list()
                    .layer(new DenseLayer.Builder().nIn(Teacher.INPUTS).nOut(64).activation(Activation.TANH).build())
                    .layer(new DenseLayer.Builder().nIn(64).nOut(64).activation(Activation.TANH).build())
                    .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MSE).nIn(64).nOut(1)
                            .activation(Activation.IDENTITY).build())
                    .build());
            default -> throw new IllegalArgumentException("workload " + workload
                    + ": lstm, conv1d, mlp-l2, cg-residual, deep-relu, elu-mlp, cnn2d or regression");
        };
    }

    /**
     * The regression task: Gaussian inputs and the target {@code 3 * sum(tanh(x A))} of a teacher whose 20x8 matrix
     * {@code A} is the same for every seed; the seed draws the inputs. Its variance is about 40, so an unclipped
     * squared-error gradient at a large learning rate blows up within a few steps.
     */
    static final class Teacher implements BatchStream {
        static final int INPUTS = 20;
        private static final int HIDDEN = 8;
        private final INDArray weights;
        private final Random draws;

        Teacher(long seed) {
            Random fixed = new Random(7);
            float[] a = new float[INPUTS * HIDDEN];
            for (int i = 0; i < a.length; i++) {
                a[i] = (float) fixed.nextGaussian();
            }
            weights = Nd4j.create(a, new long[] {INPUTS, HIDDEN});
            draws = new Random(seed);
        }

        DataSet batch(int size) {
            float[] x = new float[size * INPUTS];
            for (int i = 0; i < x.length; i++) {
                x[i] = (float) draws.nextGaussian();
            }
            INDArray inputs = Nd4j.create(x, new long[] {size, INPUTS});
            return new DataSet(inputs, Transforms.tanh(inputs.mmul(weights)).sum(true, 1).muli(3));
        }

        @Override
        public DataSet next() {
            return batch(BATCH);
        }

        @Override
        public void skip(long batches) {
            for (long b = 0; b < batches; b++) {
                next();
            }
        }

        @Override
        public int batchesPerEpoch() {
            return Integer.MAX_VALUE;
        }
    }

    private static DenseLayer relu(int inputs) {
        return new DenseLayer.Builder().nIn(inputs).nOut(128).activation(Activation.RELU).build();
    }

    private static MultiLayerNetwork network(org.deeplearning4j.nn.conf.MultiLayerConfiguration conf) {
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        return net;
    }
}
