package dev.gradsentry.training;

import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.distribution.NormalDistribution;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.LSTM;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.recurrent.LastTimeStep;
import org.deeplearning4j.nn.conf.layers.recurrent.SimpleRnn;
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
import org.nd4j.linalg.learning.config.RmsProp;
import org.nd4j.linalg.learning.config.Sgd;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import org.nd4j.linalg.dataset.api.preprocessor.DataNormalization;

import java.nio.file.Path;
import java.util.Random;
import java.util.function.Supplier;

/** Builds the network, data and evaluation of each {@link WorkloadKind} for a {@link RunSpec}. */
public final class Workloads {

    /** Sequences in one "epoch" of the adding problem, whose data is generated without end. */
    static final int ADDING_EPOCH = 10_000;

    private final Supplier<FashionMnist> fashion;
    private final UserFiles userFiles;

    /**
     * Steps in one epoch: one pass over the 60,000 Fashion-MNIST training images, 10,000 adding sequences, or the
     * user's training examples (read to count them).
     */
    public int batchesPerEpoch(RunSpec spec) {
        if (spec.workload() == WorkloadKind.USER) {
            return UserWorkload.batchesPerEpoch(spec, userFiles);
        }
        int examples = spec.workload() == WorkloadKind.ADDING ? ADDING_EPOCH : FashionMnist.TRAIN_SIZE;
        return Math.max(1, examples / spec.batchSize());
    }

    /** @param fashion loads Fashion-MNIST on first use; only the Fashion workloads call it */
    public Workloads(Supplier<FashionMnist> fashion) {
        this(fashion, null);
    }

    /**
     * @param fashion loads Fashion-MNIST on first use; only the Fashion workloads call it
     * @param userDir where the {@code user} workload's model and data files are; null refuses that workload
     */
    public Workloads(Supplier<FashionMnist> fashion, Path userDir) {
        this.fashion = fashion;
        this.userFiles = new UserFiles(userDir);
    }

    /**
     * Whether the workload is built, and its files checked, before its run is accepted: the user's files are, so that
     * every mismatch is an answer to the request that started the run; the built-in workloads are built on the
     * training thread.
     */
    public static boolean preparedBeforeStart(RunSpec spec) {
        return spec.workload() == WorkloadKind.USER;
    }

    public TrainingSetup prepare(RunSpec spec) {
        return prepare(spec, null);
    }

    /**
     * Builds the workload; {@code normalizer}, saved with a checkpoint, is applied to the user's data instead of one
     * fitted anew (null fits one; the built-in workloads use none).
     *
     * @throws dev.gradsentry.core.InvalidSettingException when a user's model or data do not fit
     */
    public TrainingSetup prepare(RunSpec spec, DataNormalization normalizer) {
        return switch (spec.workload()) {
            case FASHION_MLP -> fashion(spec, mlp(spec), false);
            case FASHION_RNN -> fashion(spec, recurrent(spec, FashionMnist.COLS, FashionMnist.CLASSES), true);
            case ADDING -> adding(spec, recurrent(spec, 2, 1));
            case USER -> UserWorkload.prepare(spec, userFiles, normalizer);
        };
    }

    private static NeuralNetConfiguration.ListBuilder base(RunSpec spec) {
        return new NeuralNetConfiguration.Builder()
                .seed(spec.seed())
                .dataType(DataType.FLOAT)
                .updater(updater(spec))
                .list();
    }

    static IUpdater updater(RunSpec spec) {
        double lr = spec.learningRate();
        return switch (spec.optimizer()) {
            case SGD -> new Sgd(lr);
            case ADAM -> new Adam(lr);
            case NESTEROVS -> new Nesterovs(lr, 0.9);
            case RMSPROP -> new RmsProp(lr);
        };
    }

    private static Activation activation(RunSpec.Act act) {
        return switch (act) {
            case TANH -> Activation.TANH;
            case RELU -> Activation.RELU;
            case IDENTITY -> Activation.IDENTITY;
        };
    }

    private static MultiLayerNetwork mlp(RunSpec spec) {
        Activation act = activation(spec.activation());
        WeightInit init = spec.activation() == RunSpec.Act.RELU ? WeightInit.RELU : WeightInit.XAVIER;
        MultiLayerNetwork net = new MultiLayerNetwork(base(spec)
                .layer(new DenseLayer.Builder().nIn(FashionMnist.PIXELS).nOut(spec.hidden())
                        .activation(act).weightInit(init).build())
                .layer(new DenseLayer.Builder().nIn(spec.hidden()).nOut(spec.hidden())
                        .activation(act).weightInit(init).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(spec.hidden())
                        .nOut(FashionMnist.CLASSES).activation(Activation.SOFTMAX).weightInit(WeightInit.XAVIER).build())
                .build());
        net.init();
        return net;
    }

    /** One recurrent layer read at its last time step, then a dense output: softmax for classes, identity for 1. */
    private static MultiLayerNetwork recurrent(RunSpec spec, int nIn, int nOut) {
        Activation act = activation(spec.activation());
        NormalDistribution recurrentInit = new NormalDistribution(0, spec.recurrentGain() / Math.sqrt(spec.hidden()));
        var cell = spec.cell() == RunSpec.Cell.LSTM
                ? new LSTM.Builder().nIn(nIn).nOut(spec.hidden()).activation(act)
                        .weightInit(WeightInit.XAVIER).weightInitRecurrent(recurrentInit).build()
                : new SimpleRnn.Builder().nIn(nIn).nOut(spec.hidden()).activation(act)
                        .weightInit(WeightInit.XAVIER).weightInitRecurrent(recurrentInit).build();
        OutputLayer out = nOut == 1
                ? new OutputLayer.Builder(LossFunctions.LossFunction.MSE).nIn(spec.hidden()).nOut(1)
                        .activation(Activation.IDENTITY).weightInit(WeightInit.XAVIER).build()
                : new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(spec.hidden()).nOut(nOut)
                        .activation(Activation.SOFTMAX).weightInit(WeightInit.XAVIER).build();
        MultiLayerNetwork net = new MultiLayerNetwork(base(spec).layer(new LastTimeStep(cell)).layer(out).build());
        net.init();
        return net;
    }

    private TrainingSetup fashion(RunSpec spec, MultiLayerNetwork net, boolean sequence) {
        FashionMnist data = fashion.get();
        FashionMnist.Split train = data.train();
        FashionMnist.Split test = data.test();
        int evalCount = Math.min(spec.evalExamples(), test.size());
        DataSet held = fashionBatch(test, identity(evalCount), 0, evalCount, sequence);
        BatchStream stream = new BatchStream() {
            private final Random order = new Random(spec.seed());
            private int[] permutation = shuffled(train.size(), order);
            private int position;

            @Override
            public DataSet next() {
                if (position + spec.batchSize() > permutation.length) {
                    permutation = shuffled(train.size(), order);
                    position = 0;
                }
                DataSet batch = fashionBatch(train, permutation, position, spec.batchSize(), sequence);
                position += spec.batchSize();
                return batch;
            }

            @Override
            public void skip(long batches) {
                for (long b = 0; b < batches; b++) {
                    if (position + spec.batchSize() > permutation.length) {
                        permutation = shuffled(train.size(), order);
                        position = 0;
                    }
                    position += spec.batchSize();
                }
            }

            @Override
            public int batchesPerEpoch() {
                return Math.max(1, train.size() / spec.batchSize());
            }
        };
        return new TrainingSetup(net, stream, "accuracy", n -> accuracy(n, held));
    }

    private static int[] identity(int n) {
        int[] idx = new int[n];
        for (int i = 0; i < n; i++) {
            idx[i] = i;
        }
        return idx;
    }

    /** Fisher-Yates with the run's own generator, so the data order is a function of the seed alone. */
    public static int[] shuffled(int n, Random random) {
        int[] idx = identity(n);
        for (int i = n - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            int t = idx[i];
            idx[i] = idx[j];
            idx[j] = t;
        }
        return idx;
    }

    /**
     * Images as a flat [n, 784] batch, or as sequences [n, 28 features, 28 steps] where step t is image row t
     * (DL4J's NCW layout).
     */
    public static DataSet fashionBatch(FashionMnist.Split split, int[] order, int from, int count, boolean sequence) {
        int px = FashionMnist.PIXELS;
        float[] features = new float[count * px];
        float[] labels = new float[count * FashionMnist.CLASSES];
        for (int i = 0; i < count; i++) {
            int example = order[from + i];
            if (sequence) {
                for (int row = 0; row < FashionMnist.ROWS; row++) {
                    for (int col = 0; col < FashionMnist.COLS; col++) {
                        features[i * px + col * FashionMnist.ROWS + row] =
                                split.pixels()[example * px + row * FashionMnist.COLS + col];
                    }
                }
            } else {
                System.arraycopy(split.pixels(), example * px, features, i * px, px);
            }
            labels[i * FashionMnist.CLASSES + split.labels()[example]] = 1f;
        }
        INDArray f = sequence
                ? Nd4j.create(features, new long[] {count, FashionMnist.COLS, FashionMnist.ROWS}, 'c')
                : Nd4j.create(features, new long[] {count, px}, 'c');
        return new DataSet(f, Nd4j.create(labels, new long[] {count, FashionMnist.CLASSES}, 'c'));
    }

    /** Fraction of {@code held} classified correctly; NaN when the network's output is not finite. */
    public static double accuracy(MultiLayerNetwork net, DataSet held) {
        return accuracy(net.output(held.getFeatures(), false), held.getLabels());
    }

    /** Fraction of rows whose largest output is the one-hot label's class; NaN when {@code out} is not finite. */
    public static double accuracy(INDArray out, INDArray labels) {
        INDArray predicted = out.argMax(1);
        INDArray actual = labels.argMax(1);
        long n = actual.length();
        long correct = 0;
        for (long i = 0; i < n; i++) {
            if (predicted.getLong(i) == actual.getLong(i)) {
                correct++;
            }
        }
        return Double.isFinite(out.sumNumber().doubleValue()) ? (double) correct / n : Double.NaN;
    }

    private TrainingSetup adding(RunSpec spec, MultiLayerNetwork net) {
        DataSet held = AddingProblem.batch(new Random(spec.seed() ^ 0x5DEECE66DL), spec.evalExamples(),
                spec.sequenceLength());
        BatchStream stream = new BatchStream() {
            private final Random random = new Random(spec.seed());

            @Override
            public DataSet next() {
                return AddingProblem.batch(random, spec.batchSize(), spec.sequenceLength());
            }

            @Override
            public void skip(long batches) {
                for (long b = 0; b < batches; b++) {
                    AddingProblem.skip(random, spec.batchSize(), spec.sequenceLength());
                }
            }

            @Override
            public int batchesPerEpoch() {
                return Math.max(1, ADDING_EPOCH / spec.batchSize());
            }
        };
        return new TrainingSetup(net, stream, "mse", n -> AddingProblem.mse(n, held));
    }
}
