package dev.gradsentry.bench;

import dev.gradsentry.core.intervene.Guard;
import dev.gradsentry.training.FashionMnist;
import dev.gradsentry.training.Network;
import dev.gradsentry.training.Workloads;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.graph.ElementWiseVertex;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.Convolution1DLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.GlobalPoolingLayer;
import org.deeplearning4j.nn.conf.layers.LSTM;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.conf.layers.recurrent.LastTimeStep;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.learning.config.IUpdater;
import org.nd4j.linalg.learning.config.Nesterovs;
import org.nd4j.linalg.learning.config.Sgd;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import java.util.Arrays;
import java.util.Locale;

/**
 * {@code ./bench unseen WORKLOAD OPTIMIZER LR STEPS SEED CONTENDER}: one run of a network the stability plan does not
 * hold, attached the way a new user would, on Fashion-MNIST; prints one {@code RESULT} line. It checks whether the
 * guard's rules carry over to layer kinds and graphs it was never tuned on (an LSTM, 1-D convolutions, an MLP with L2,
 * a residual {@link ComputationGraph}), run by run so that a shell loop can spread a grid over the cores (the
 * command lines are in docs/benchmarks.md, item 19).
 *
 * <p>Workloads: {@code lstm} (LSTM 64 on image rows), {@code conv1d} (two 1-D convolutions of 32, kernel 3, relu,
 * global max pooling, on image rows), {@code mlp-l2} (784-2x256 tanh, L2 1e-3), {@code cg-residual} (784-128 relu,
 * then two relu blocks of 128 added to their input). Optimizers {@code sgd} and {@code nesterov} (momentum 0.9).
 * Contenders {@code none}, {@code guard} ({@code Guard.protect}) and {@code GRID:THRESHOLD} for a fixed threshold
 * applied alone every step ({@code value}, {@code norm}, {@code global-norm}). Accuracy on 2,000 held-out images;
 * the parameters' hash tells bitwise-identical runs apart.
 */
final class UnseenBench {

    private static final int BATCH = 128;
    private static final int HELD_OUT = 2000;

    private UnseenBench() {
    }

    static void main(String[] args) {
        if (args.length != 6) {
            System.err.println("usage: ./bench unseen lstm|conv1d|mlp-l2|cg-residual sgd|nesterov LR STEPS SEED "
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
            default -> throw new IllegalArgumentException("optimizer " + args[1] + ": sgd or nesterov");
        };
        int steps = Integer.parseInt(args[3]);
        long seed = Long.parseLong(args[4]);
        String contender = args[5];
        boolean rows = workload.equals("lstm") || workload.equals("conv1d");
        Model model = build(workload, updater, seed);
        Network network = Network.of(model);
        BenchData data = new BenchData();
        FashionStream train = new FashionStream(data.fashion(), BATCH, rows, seed);
        DataSet held = FashionStream.heldOut(data.fashion(), HELD_OUT, rows);
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
        double accuracy = Workloads.accuracy(out, held.getLabels());
        return String.format(Locale.ROOT, "RESULT %s %s %s %d %s acc %.4f events %d end %s hash %d%s", workload,
                args[1], args[2], seed, contender, accuracy, count[0], ending,
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
            default -> throw new IllegalArgumentException("workload " + workload
                    + ": lstm, conv1d, mlp-l2 or cg-residual");
        };
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
