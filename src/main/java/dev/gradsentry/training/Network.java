package dev.gradsentry.training;

import dev.gradsentry.core.probe.GradientProbe;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.util.ModelSerializer;
import org.nd4j.evaluation.classification.Evaluation;
import org.nd4j.evaluation.regression.RegressionEvaluation;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.nd4j.linalg.dataset.api.preprocessor.DataNormalization;
import org.nd4j.linalg.dataset.api.preprocessor.serializer.NormalizerSerializer;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;
import java.util.zip.ZipOutputStream;

/**
 * The network a run trains, a {@link MultiLayerNetwork} or a {@link ComputationGraph}: DL4J gives the two no common
 * type for training, counting epochs, evaluating and saving, so the run talks to them through this one.
 */
public sealed interface Network {

    static Network of(Model model) {
        if (model instanceof MultiLayerNetwork net) {
            return new Layers(net);
        }
        if (model instanceof ComputationGraph graph) {
            return new Graph(graph);
        }
        throw new IllegalArgumentException("not a MultiLayerNetwork or ComputationGraph: " + model.getClass());
    }

    Model model();

    default INDArray params() {
        return model().params();
    }

    /** The optimizer's state (momentum, Adam's moments), or null for an optimizer that keeps none. */
    INDArray updaterState();

    int iterationCount();

    /** {@code multi-layer} or {@code graph}, as logs and errors name the kind. */
    String kind();

    /** One training step on {@code batch}. */
    void fit(DataSet batch);

    int epochCount();

    void incrementEpochCount();

    /** Attaches a new gradient probe (layers named by index and type, or by vertex name). */
    GradientProbe attachProbe();

    /** Classification metrics on held-out batches; DL4J's evaluation handles time series and their masks. */
    Evaluation evaluate(DataSetIterator held);

    RegressionEvaluation evaluateRegression(DataSetIterator held);

    /**
     * The loss of {@code batch} after a forward and a backward pass, without an update: a dry run that shows whether
     * the model fits the data. It runs on a copy: DL4J's backward pass outside {@code fit} resets the optimizer's
     * state, which a saved model brings along.
     */
    double dryRun(DataSet batch);

    /**
     * Writes the network with its updater state, and the normalizer when not null, as DL4J's ModelSerializer does:
     * the zip {@code ModelSerializer.restoreComputationGraphAndNormalizer} (or the MultiLayerNetwork one) reads. Not
     * through ModelSerializer's own overload with a normalizer: that one closes its zip before it is finished
     * ("flush() failed: stream is closed" in DL4J 1.0.0-M2.1), so the normalizer's entry is added here.
     */
    default void write(OutputStream out, DataNormalization normalizer) throws IOException {
        if (normalizer == null) {
            ModelSerializer.writeModel(model(), out, true);
            return;
        }
        ByteArrayOutputStream model = new ByteArrayOutputStream();
        ModelSerializer.writeModel(model(), model, true);
        ByteArrayOutputStream saved = new ByteArrayOutputStream();
        try {
            NormalizerSerializer.getDefault().write(normalizer, saved);
        } catch (Exception e) {
            throw new IOException("cannot write the normalizer: " + e.getMessage(), e);
        }
        ZipOutputStream zip = new ZipOutputStream(out);
        try (ZipInputStream in = new ZipInputStream(new ByteArrayInputStream(model.toByteArray()))) {
            for (ZipEntry e; (e = in.getNextEntry()) != null; ) {
                zip.putNextEntry(new ZipEntry(e.getName()));
                in.transferTo(zip);
                zip.closeEntry();
            }
        }
        zip.putNextEntry(new ZipEntry(ModelSerializer.NORMALIZER_BIN));
        zip.write(saved.toByteArray());
        zip.closeEntry();
        zip.finish();
    }

    /**
     * Puts the parameters, updater state and counters of a network saved by {@link #write} into this one, which must
     * have the same architecture.
     */
    void restore(byte[] saved) throws IOException;

    record Layers(MultiLayerNetwork net) implements Network {
        @Override
        public Model model() {
            return net;
        }

        @Override
        public String kind() {
            return "multi-layer";
        }

        @Override
        public INDArray updaterState() {
            return net.getUpdater(true) == null ? null : net.getUpdater(true).getStateViewArray();
        }

        @Override
        public int iterationCount() {
            return net.getIterationCount();
        }

        @Override
        public void fit(DataSet batch) {
            net.fit(batch);
        }

        @Override
        public int epochCount() {
            return net.getEpochCount();
        }

        @Override
        public void incrementEpochCount() {
            net.incrementEpochCount();
        }

        @Override
        public GradientProbe attachProbe() {
            return GradientProbe.attach(net);
        }

        @Override
        public Evaluation evaluate(DataSetIterator held) {
            return net.evaluate(held);
        }

        @Override
        public RegressionEvaluation evaluateRegression(DataSetIterator held) {
            return net.evaluateRegression(held);
        }

        @Override
        public double dryRun(DataSet batch) {
            MultiLayerNetwork net = this.net.clone();
            net.setInput(batch.getFeatures());
            net.setLabels(batch.getLabels());
            net.setLayerMaskArrays(batch.getFeaturesMaskArray(), batch.getLabelsMaskArray());
            try {
                net.computeGradientAndScore();
                return net.score();
            } finally {
                net.clear();
            }
        }

        @Override
        public void restore(byte[] saved) throws IOException {
            Layers s = new Layers(ModelSerializer.restoreMultiLayerNetwork(new ByteArrayInputStream(saved), true));
            copy(s, this);
            net.setIterationCount(s.iterationCount());
            net.setEpochCount(s.epochCount());
        }
    }

    record Graph(ComputationGraph graph) implements Network {
        @Override
        public Model model() {
            return graph;
        }

        @Override
        public String kind() {
            return "graph";
        }

        @Override
        public INDArray updaterState() {
            return graph.getUpdater(true) == null ? null : graph.getUpdater(true).getStateViewArray();
        }

        @Override
        public int iterationCount() {
            return graph.getIterationCount();
        }

        @Override
        public void fit(DataSet batch) {
            graph.fit(batch);
        }

        @Override
        public int epochCount() {
            return graph.getEpochCount();
        }

        @Override
        public void incrementEpochCount() {
            graph.incrementEpochCount();
        }

        @Override
        public GradientProbe attachProbe() {
            return GradientProbe.attach(graph);
        }

        @Override
        public Evaluation evaluate(DataSetIterator held) {
            return graph.evaluate(held);
        }

        @Override
        public RegressionEvaluation evaluateRegression(DataSetIterator held) {
            return graph.evaluateRegression(held);
        }

        @Override
        public double dryRun(DataSet batch) {
            ComputationGraph graph = this.graph.clone();
            graph.setInputs(batch.getFeatures());
            graph.setLabels(batch.getLabels());
            graph.setLayerMaskArrays(batch.getFeaturesMaskArray() == null ? null
                    : new INDArray[] {batch.getFeaturesMaskArray()}, batch.getLabelsMaskArray() == null ? null
                    : new INDArray[] {batch.getLabelsMaskArray()});
            try {
                graph.computeGradientAndScore();
                return graph.score();
            } finally {
                graph.clear();
            }
        }

        @Override
        public void restore(byte[] saved) throws IOException {
            Graph s = new Graph(ModelSerializer.restoreComputationGraph(new ByteArrayInputStream(saved), true));
            copy(s, this);
            graph.getConfiguration().setIterationCount(s.iterationCount());
            graph.getConfiguration().setEpochCount(s.epochCount());
        }
    }

    private static void copy(Network saved, Network into) throws IOException {
        INDArray savedParams = saved.params();
        INDArray params = into.params();
        INDArray savedState = saved.updaterState();
        INDArray state = into.updaterState();
        if (savedParams.length() != params.length()) {
            throw new IOException("the saved network has " + savedParams.length() + " parameters, the run's has "
                    + params.length());
        }
        params.assign(savedParams);
        if (state != null && savedState != null) {
            if (state.length() != savedState.length()) {
                throw new IOException("the saved updater state has " + savedState.length() + " values, the run's "
                        + "optimizer keeps " + state.length());
            }
            state.assign(savedState);
        }
    }
}
