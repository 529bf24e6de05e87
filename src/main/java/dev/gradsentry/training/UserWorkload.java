package dev.gradsentry.training;

import dev.gradsentry.core.InvalidSettingException;
import org.nd4j.evaluation.classification.Evaluation;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.nd4j.linalg.dataset.api.preprocessor.DataNormalization;
import org.nd4j.linalg.dataset.api.preprocessor.NormalizerMinMaxScaler;
import org.nd4j.linalg.dataset.api.preprocessor.NormalizerStandardize;
import org.deeplearning4j.datasets.iterator.utilty.ListDataSetIterator;
import org.nd4j.linalg.lossfunctions.ILossFunction;
import org.nd4j.linalg.lossfunctions.impl.LossBinaryXENT;
import org.nd4j.linalg.lossfunctions.impl.LossFMeasure;
import org.nd4j.linalg.lossfunctions.impl.LossHinge;
import org.nd4j.linalg.lossfunctions.impl.LossL1;
import org.nd4j.linalg.lossfunctions.impl.LossL2;
import org.nd4j.linalg.lossfunctions.impl.LossMAE;
import org.nd4j.linalg.lossfunctions.impl.LossMAPE;
import org.nd4j.linalg.lossfunctions.impl.LossMCXENT;
import org.nd4j.linalg.lossfunctions.impl.LossMSE;
import org.nd4j.linalg.lossfunctions.impl.LossMSLE;
import org.nd4j.linalg.lossfunctions.impl.LossMultiLabel;
import org.nd4j.linalg.lossfunctions.impl.LossPoisson;
import org.nd4j.linalg.lossfunctions.impl.LossSquaredHinge;
import org.nd4j.linalg.lossfunctions.impl.LossWasserstein;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;

/**
 * The {@code user} workload: the user's model ({@link UserModel}) on the user's data (CSV read by DataVec,
 * {@link CsvExamples}, or IDX images, {@link IdxExamples}), both checked against each other before the first step,
 * each mismatch an {@link InvalidSettingException} naming the field and the fix: the model's input width against the
 * features, its output width against the classes or label columns, its loss function against the task, and last a dry run of the loss on one batch, which reports what DL4J
 * itself finds wrong.
 *
 * <p>The examples are held in memory, each its own DataSet, shuffled by the run's seed as the built-in workloads are;
 * the normalizer is fitted on the training examples only (or is the one a checkpoint saved) and applied to both sets.
 */
final class UserWorkload {

    /** Salt of the held-out split's generator: the split does not move when the data order does. */
    private static final long SPLIT_SALT = 0x5EED5EEDL;
    /** Examples per evaluation batch: bounds the memory of one forward pass over the held-out set. */
    private static final int EVAL_BATCH = 256;

    private static final Set<Class<? extends ILossFunction>> CLASSIFICATION_LOSSES = Set.of(LossMCXENT.class,
            org.nd4j.linalg.lossfunctions.impl.LossNegativeLogLikelihood.class, LossBinaryXENT.class, LossHinge.class,
            LossSquaredHinge.class, LossFMeasure.class, LossMultiLabel.class);
    private static final Set<Class<? extends ILossFunction>> REGRESSION_LOSSES = Set.of(LossMSE.class, LossL1.class,
            LossL2.class, LossMAE.class, LossMAPE.class, LossMSLE.class, LossPoisson.class, LossWasserstein.class);

    private UserWorkload() {
    }

    /** The training examples and the held-out ones, normalized. */
    record Examples(List<DataSet> train, DataSet held, DataNormalization normalizer) {
    }

    /**
     * Builds the user's run: reads and checks the model and the data.
     *
     * @param saved the normalizer a checkpoint saved, applied instead of fitting a new one; null for a new run
     */
    static TrainingSetup prepare(RunSpec spec, UserFiles files, DataNormalization saved) {
        UserModel model = UserModel.load(files.file("model", spec.model()), spec);
        UserData d = spec.data();
        checkLoss(d, model.output());
        int classes = classes(d, model);
        Examples examples = examples(spec, files, classes, saved, model);
        List<DataSet> train = examples.train();
        DataSet first = DataSet.merge(train.subList(0, Math.min(spec.batchSize(), train.size())));
        try {
            double loss = model.network().dryRun(first);
            if (!Double.isFinite(loss)) {
                throw new InvalidSettingException("model", "the model's loss on the first batch of data.train is "
                        + loss + " before any training; check the model's weights and the data's scale "
                        + "(data.normalize)");
            }
        } catch (InvalidSettingException e) {
            throw e;
        } catch (RuntimeException e) {
            throw new InvalidSettingException("model", "the model cannot compute its loss on data.train: DL4J says "
                    + UserModel.causes(e) + "; fit the model's input and output layers to the data" + switch (
                    d.format()) {
                        case CSV -> "";
                        case CSV_SEQUENCE -> " (sequences need recurrent layers, and an RnnOutputLayer for a label "
                                + "per step or a LastTimeStep layer before an OutputLayer for one per sequence; a "
                                + "graph needs setInputTypes(InputType.recurrent(features)) so that DL4J knows its "
                                + "time series layout)";
                        case IDX -> " (each image is one row of pixels; a convolutional model needs "
                                + "setInputType(InputType.convolutionalFlat(rows, cols, 1)))";
                    });
        }
        DataSet held = examples.held();
        boolean classification = d.task() == UserData.Task.CLASSIFICATION;
        return new TrainingSetup(model.network(), stream(spec, train), classification ? "accuracy" : "mse",
                net -> evaluate(net, held, classification), examples.normalizer());
    }

    /** Training steps in one pass over the user's training examples, read with the model's checks. */
    static int batchesPerEpoch(RunSpec spec, UserFiles files) {
        UserModel model = UserModel.load(files.file("model", spec.model()), spec);
        checkLoss(spec.data(), model.output());
        int n = examples(spec, files, classes(spec.data(), model), null, model).train().size();
        return Math.max(1, n / Math.min(spec.batchSize(), n));
    }

    private static int classes(UserData d, UserModel model) {
        if (d.task() != UserData.Task.CLASSIFICATION) {
            if (d.labelColumns() != model.output().width()) {
                throw new InvalidSettingException("model", "the model's output, " + model.output().layer() + ", has "
                        + model.output().width() + " units but the data has " + d.labelColumns() + " label column"
                        + (d.labelColumns() == 1 ? "" : "s") + " (data.labelColumns); give the output layer nOut "
                        + d.labelColumns() + " or set data.labelColumns");
            }
            return -1;
        }
        int width = (int) model.output().width();
        if (d.classes() != null && d.classes() != width) {
            throw new InvalidSettingException(UserData.field("classes"), "data.classes is " + d.classes()
                    + " but the model's output, " + model.output().layer() + ", has " + width + " units; give the "
                    + "output layer nOut " + d.classes() + " or correct data.classes");
        }
        if (width < 2) {
            throw new InvalidSettingException("model", "the model's output, " + model.output().layer() + ", has "
                    + width + " unit, too few for a classification; give it one unit per class (softmax), or set "
                    + "data.task to regression");
        }
        return width;
    }

    private static void checkLoss(UserData d, UserModel.Output out) {
        boolean classification = d.task() == UserData.Task.CLASSIFICATION;
        Class<?> loss = out.loss().getClass();
        if (classification && REGRESSION_LOSSES.contains(loss)) {
            throw new InvalidSettingException("model", "the model's output, " + out.layer() + ", has the regression "
                    + "loss " + out.loss() + " but data.task is classification; use LossFunction.MCXENT with "
                    + "softmax (or NEGATIVELOGLIKELIHOOD), or set data.task to regression");
        }
        if (!classification && CLASSIFICATION_LOSSES.contains(loss)) {
            throw new InvalidSettingException("model", "the model's output, " + out.layer() + ", has the "
                    + "classification loss " + out.loss() + " but data.task is regression; use LossFunction.MSE "
                    + "(or L1, L2, MAE) with an identity activation, or set data.task to classification");
        }
    }

    private static Examples examples(RunSpec spec, UserFiles files, int classes, DataNormalization saved,
                                     UserModel model) {
        UserData d = spec.data();
        ExampleSet train = read(files, d, "train", d.train(), "trainLabels", d.trainLabels(), classes, model);
        if (model.input() >= 0 && model.input() != train.features()) {
            throw new InvalidSettingException("model", "the model takes " + model.input() + " inputs (nIn of its "
                    + "first layer) but data.train has " + train.featuresText() + "; give the first layer nIn "
                    + train.features() + train.otherFix());
        }
        List<DataSet> trainList = new ArrayList<>(train.data().asList());
        List<DataSet> heldList;
        if (d.test() != null) {
            ExampleSet test = read(files, d, "test", d.test(), "testLabels", d.testLabels(), classes, model);
            if (!test.layout().equals(train.layout())) {
                throw new InvalidSettingException(UserData.field("test"), "data.test has " + test.layout()
                        + ", data.train " + train.layout() + "; held-out files must be laid out as the training "
                        + "files");
            }
            heldList = test.data().asList();
        } else {
            int held = (int) Math.round(trainList.size() * d.split());
            if (held < 1 || held >= trainList.size()) {
                throw new InvalidSettingException(UserData.field("split"), "data.split " + d.split() + " of "
                        + trainList.size() + " examples holds out " + held + "; give more examples, another split, "
                        + "or held-out files in data.test");
            }
            int[] order = Workloads.shuffled(trainList.size(), new Random(spec.seed() ^ SPLIT_SALT));
            List<DataSet> kept = new ArrayList<>();
            heldList = new ArrayList<>();
            for (int i = 0; i < order.length; i++) {
                (i < held ? heldList : kept).add(trainList.get(order[i]));
            }
            trainList = kept;
        }
        heldList = heldList.subList(0, Math.min(heldList.size(), spec.evalExamples()));
        DataSet trainSet = DataSet.merge(trainList);
        DataSet heldSet = DataSet.merge(heldList);
        DataNormalization normalizer = saved != null ? saved : switch (d.normalize()) {
            case STANDARDIZE -> new NormalizerStandardize();
            case MIN_MAX -> new NormalizerMinMaxScaler();
            case NONE -> null;
        };
        if (normalizer != null) {
            if (saved == null) {
                normalizer.fit(trainSet);
            }
            normalizer.preProcess(trainSet);
            normalizer.preProcess(heldSet);
        }
        return new Examples(trainSet.asList(), heldSet, normalizer);
    }

    /** The set the fields {@code data.<name>} and {@code data.<labelsName>} name, read as their format says. */
    private static ExampleSet read(UserFiles files, UserData d, String name, String path, String labelsName,
                                   String labels, int classes, UserModel model) {
        String field = UserData.field(name);
        String labelsField = UserData.field(labelsName);
        return switch (d.format()) {
            case CSV -> CsvExamples.read(field, files.file(field, path), labelsField, null, d, classes, null);
            case CSV_SEQUENCE -> CsvExamples.read(field, files.directory(field, path), labelsField,
                    labels == null ? null : files.directory(labelsField, labels), d, classes,
                    model.output().perStep() ? null : model.output().layer());
            case IDX -> IdxExamples.read(field, files.file(field, path), labelsField, files.file(labelsField, labels),
                    classes);
        };
    }

    /** The examples in the order the run's seed gives, reshuffled after each pass, as the built-in workloads do. */
    private static BatchStream stream(RunSpec spec, List<DataSet> train) {
        int batch = Math.min(spec.batchSize(), train.size());
        return new BatchStream() {
            private final Random order = new Random(spec.seed());
            private int[] permutation = Workloads.shuffled(train.size(), order);
            private int position;

            @Override
            public DataSet next() {
                advance();
                List<DataSet> picked = new ArrayList<>(batch);
                for (int i = 0; i < batch; i++) {
                    picked.add(train.get(permutation[position + i]));
                }
                position += batch;
                return DataSet.merge(picked);
            }

            @Override
            public void skip(long batches) {
                for (long b = 0; b < batches; b++) {
                    advance();
                    position += batch;
                }
            }

            private void advance() {
                if (position + batch > permutation.length) {
                    permutation = Workloads.shuffled(train.size(), order);
                    position = 0;
                }
            }

            @Override
            public int batchesPerEpoch() {
                return Math.max(1, train.size() / batch);
            }
        };
    }

    /** Accuracy or mean squared error on the held-out examples; NaN once the weights are not finite. */
    private static double evaluate(Network net, DataSet held, boolean classification) {
        if (!Double.isFinite(net.params().sumNumber().doubleValue())) {
            return Double.NaN;
        }
        DataSetIterator it = new ListDataSetIterator<>(held.asList(), EVAL_BATCH);
        if (classification) {
            Evaluation e = net.evaluate(it);
            return e.accuracy();
        }
        return net.evaluateRegression(it).averageMeanSquaredError();
    }
}
