package dev.gradsentry.core.probe;

import org.deeplearning4j.nn.conf.GradientNormalization;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.LSTM;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.recurrent.LastTimeStep;
import org.deeplearning4j.nn.conf.layers.recurrent.SimpleRnn;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.learning.config.IUpdater;
import org.nd4j.linalg.learning.config.Sgd;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.assertThrows;

class GradientProbeTest {

    private static final double LR = 0.1;

    /** y = xW + b, identity activation, MSE: small enough to differentiate by hand. */
    private static MultiLayerNetwork linear() {
        MultiLayerNetwork net = new MultiLayerNetwork(new NeuralNetConfiguration.Builder()
                .seed(7).dataType(DataType.DOUBLE).updater(new Sgd(LR)).list()
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MSE).nIn(3).nOut(2)
                        .activation(Activation.IDENTITY).weightInit(WeightInit.XAVIER).build())
                .build());
        net.init();
        return net;
    }

    private static final double[][] X = {{0.5, -1.0, 2.0}, {1.5, 0.25, -0.5}, {-2.0, 1.0, 0.75}, {0.1, 0.2, 0.3}};
    private static final double[][] T = {{1.0, 0.0}, {-1.0, 2.0}, {0.5, 0.5}, {3.0, -2.0}};

    private static DataSet linearBatch() {
        return new DataSet(Nd4j.create(X), Nd4j.create(T));
    }

    @Test
    void normsMatchAHandComputationOfTheBatchAveragedGradient() {
        MultiLayerNetwork net = linear();
        double[][] w = net.getParam("0_W").toDoubleMatrix();
        double[] b = net.getParam("0_b").toDoubleVector();
        int n = X.length;
        int nOut = 2;
        // dLoss/dy for DL4J's MSE (squared error averaged over outputs): 2 (y - t) / nOut, summed over the batch
        double[][] gw = new double[3][nOut];
        double[] gb = new double[nOut];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < nOut; j++) {
                double y = b[j];
                for (int k = 0; k < 3; k++) {
                    y += X[i][k] * w[k][j];
                }
                double d = 2 * (y - T[i][j]) / nOut;
                gb[j] += d;
                for (int k = 0; k < 3; k++) {
                    gw[k][j] += X[i][k] * d;
                }
            }
        }
        double sw = 0;
        double maxAbs = 0;
        for (double[] row : gw) {
            for (double v : row) {
                sw += (v / n) * (v / n);
                maxAbs = Math.max(maxAbs, Math.abs(v / n));
            }
        }
        double sb = 0;
        for (double v : gb) {
            sb += (v / n) * (v / n);
            maxAbs = Math.max(maxAbs, Math.abs(v / n));
        }
        double normW = Math.sqrt(sw);
        double normB = Math.sqrt(sb);
        double layerNorm = Math.sqrt(sw + sb);

        // After SGD the parameters are p - lr * g/n; the update ratio is |lr g/n| / |p - lr g/n|.
        double updated = 0;
        for (int k = 0; k < 3; k++) {
            for (int j = 0; j < nOut; j++) {
                double p = w[k][j] - LR * gw[k][j] / n;
                updated += p * p;
            }
        }
        for (int j = 0; j < nOut; j++) {
            double p = b[j] - LR * gb[j] / n;
            updated += p * p;
        }
        double ratio = LR * layerNorm / Math.sqrt(updated);

        GradientProbe probe = GradientProbe.attach(net);
        List<StepStats> seen = new ArrayList<>();
        probe.addObserver(seen::add);
        net.fit(linearBatch());

        assertEquals(1, seen.size());
        StepStats s = seen.get(0);
        LayerStats layer = s.layer("0_output");
        assertNotNull(layer, "layers: " + probe.layerNames());
        assertRelative(normW, layer.param("W").norm());
        assertRelative(normB, layer.param("b").norm());
        assertRelative(layerNorm, layer.norm());
        assertRelative(layerNorm, s.globalNorm());
        assertRelative(maxAbs, layer.maxAbs());
        assertRelative(maxAbs, s.maxAbs());
        assertRelative(ratio, layer.updateRatio());
        assertEquals(0, s.nonFinite());
        assertTrue(s.finite());
        assertEquals(4, s.batchSize());
        assertEquals(LR, s.learningRate(), 0);
        assertEquals(0, s.iteration());
        assertEquals(net.score(), s.loss(), 0);
        assertEquals(s, probe.lastStep());
    }

    private static void assertRelative(double expected, double actual) {
        assertEquals(expected, actual, Math.abs(expected) * 1e-6, () -> "expected " + expected + " got " + actual);
    }

    private static MultiLayerNetwork twoLayers(long seed) {
        return twoLayers(seed, new Adam(0.01), b -> b);
    }

    /** The same network on another optimizer, with more of the user's configuration (a gradient normalization). */
    private static MultiLayerNetwork twoLayers(long seed, IUpdater updater,
                                               UnaryOperator<NeuralNetConfiguration.Builder> configure) {
        MultiLayerNetwork net = new MultiLayerNetwork(configure.apply(new NeuralNetConfiguration.Builder()
                .seed(seed).dataType(DataType.DOUBLE).updater(updater)).list()
                .layer(new DenseLayer.Builder().nIn(3).nOut(5).activation(Activation.TANH).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MSE).nIn(5).nOut(2)
                        .activation(Activation.IDENTITY).build())
                .build());
        net.init();
        return net;
    }

    @Test
    void globalAndLayerNormsAreTheRootSumOfSquaresOfTheParts() {
        MultiLayerNetwork net = twoLayers(3);
        GradientProbe probe = GradientProbe.attach(net);
        net.fit(linearBatch());
        StepStats s = probe.lastStep();
        assertEquals(List.of("0_dense", "1_output"), probe.layerNames());
        double global = 0;
        for (LayerStats l : s.layers()) {
            double layer = 0;
            for (ParamStats p : l.params()) {
                layer += p.norm() * p.norm();
            }
            assertRelative(Math.sqrt(layer), l.norm());
            global += l.norm() * l.norm();
        }
        assertRelative(Math.sqrt(global), s.globalNorm());
        assertEquals(List.of("W", "b"), s.layers().get(0).params().stream().map(ParamStats::param).toList());
    }

    /**
     * DL4J applies its own gradient normalization after the probe; the norm a guard bounds is the one DL4J goes on to
     * apply, so the probe predicts it. With plain SGD each layer's parameter change is {@code lr} times the applied
     * gradient, which makes it checkable: thresholds chosen to bind on one layer and not the other, or on some values.
     */
    @ParameterizedTest
    @EnumSource(value = GradientNormalization.class, names = {"None", "ClipL2PerLayer", "ClipL2PerParamType",
            "ClipElementWiseAbsoluteValue"})
    void theAppliedNormIsTheNormOfTheGradientDl4jApplies(GradientNormalization normalization) {
        MultiLayerNetwork net = normalized(normalization, 0.3);
        GradientProbe probe = GradientProbe.attach(net);
        INDArray before = net.params().dup();
        net.fit(linearBatch());
        INDArray moved = before.sub(net.params());
        long offset = 0;
        List<LayerStats> layers = probe.lastStep().layers();
        for (int i = 0; i < layers.size(); i++) {
            LayerStats l = layers.get(i);
            long count = net.getLayer(i).numParams();
            double applied = moved.get(NDArrayIndex.interval(offset, offset + count)).norm2Number().doubleValue() / LR;
            offset += count;
            assertRelative(applied, l.appliedNorm());
            assertTrue(l.clippable());
        }
        if (normalization != GradientNormalization.None) {
            assertTrue(probe.lastStep().layers().stream().anyMatch(l -> l.appliedNorm() < l.norm() * 0.99),
                    "the threshold binds somewhere, or the test proves nothing");
        }
    }

    /**
     * With {@code miniBatch(false)} DL4J applies the summed gradient, not the batch average: the probe divided it by
     * the batch anyway, so a guard judged every update 4 (here) or 32 times smaller than it was and let a run explode.
     */
    @Test
    void withoutMiniBatchDivisionTheNormsAreOfTheGradientDl4jApplies() {
        MultiLayerNetwork net = twoLayers(3, new Sgd(LR), b -> b.miniBatch(false));
        GradientProbe probe = GradientProbe.attach(net);
        INDArray before = net.params().dup();
        net.fit(linearBatch());
        INDArray moved = before.sub(net.params());
        long offset = 0;
        List<LayerStats> layers = probe.lastStep().layers();
        for (int i = 0; i < layers.size(); i++) {
            long count = net.getLayer(i).numParams();
            double applied = moved.get(NDArrayIndex.interval(offset, offset + count)).norm2Number().doubleValue() / LR;
            offset += count;
            assertRelative(applied, layers.get(i).norm());
            assertRelative(applied, layers.get(i).appliedNorm());
        }
        assertEquals(4, probe.lastStep().batchSize(), "the batch is still the batch");
    }

    /**
     * The share of the weights a layer's regularization takes away per step is the one DL4J's updater applies: one
     * SGD step of a network with the penalty, minus the same step without it, is that share of the weights before the
     * step (DL4J M2.1 lists a network-wide {@code weightDecay} twice for each layer and applies both: 2 lr c).
     */
    @ParameterizedTest
    @ValueSource(strings = {"weightDecay", "l2"})
    void theDecayRateIsTheShareOfTheWeightsDl4jTakesAway(String penalty) {
        MultiLayerNetwork plain = twoLayers(3, new Sgd(LR), b -> b);
        MultiLayerNetwork decayed = twoLayers(3, new Sgd(LR),
                b -> penalty.equals("l2") ? b.l2(0.05) : b.weightDecay(0.05));
        GradientProbe probe = GradientProbe.attach(decayed);
        probe.intercept(new GradientInterceptor() {
            @Override
            public void beforeUpdate(StepStats measured, GradientEdit edit) {
            }

            @Override
            public void afterUpdate(StepStats step, boolean undone) {
            }
        });
        INDArray before = decayed.getLayer(0).getParam("W").dup();
        plain.fit(linearBatch());
        decayed.fit(linearBatch());
        INDArray taken = plain.getLayer(0).getParam("W").sub(decayed.getLayer(0).getParam("W"));
        double share = taken.div(before).meanNumber().doubleValue();
        assertRelative(share, probe.lastStep().layers().get(0).decayRate());
        assertEquals(penalty.equals("l2") ? LR * 0.05 : 2 * LR * 0.05, share, 1e-6);
    }

    /** Renormalization rescales the gradient to unit norm whatever it was: nothing before it changes the update. */
    @ParameterizedTest
    @EnumSource(value = GradientNormalization.class, names = {"RenormalizeL2PerLayer", "RenormalizeL2PerParamType"})
    void aRenormalizedLayerIsNotClippable(GradientNormalization normalization) {
        MultiLayerNetwork net = normalized(normalization, 1);
        GradientProbe probe = GradientProbe.attach(net).intercept(new GradientInterceptor() {
            @Override
            public void beforeUpdate(StepStats measured, GradientEdit edit) {
            }

            @Override
            public void afterUpdate(StepStats step, boolean undone) {
            }
        });
        net.fit(linearBatch());
        for (LayerStats l : probe.lastStep().layers()) {
            assertFalse(l.clippable());
            assertEquals(LR, l.stepGain(), 0, "measured as for a guard");
            assertTrue(Double.isNaN(l.predictedUpdateRatio()));
            assertTrue(l.norm() > 0);
        }
    }

    private static MultiLayerNetwork normalized(GradientNormalization normalization, double threshold) {
        return twoLayers(5, new Sgd(LR), b -> b.gradientNormalization(normalization)
                .gradientNormalizationThreshold(threshold));
    }

    @Test
    void probingDoesNotChangeTraining() {
        MultiLayerNetwork probed = twoLayers(11);
        MultiLayerNetwork bare = twoLayers(11);
        GradientProbe.attach(probed);
        for (int i = 0; i < 5; i++) {
            probed.fit(linearBatch());
            bare.fit(linearBatch());
        }
        assertEquals(bare.params(), probed.params());
        assertEquals(bare.getUpdater().getStateViewArray(), probed.getUpdater().getStateViewArray());
    }

    @Test
    void countsNonFiniteGradientsAndFlagsTheStep() {
        MultiLayerNetwork net = twoLayers(5);
        GradientProbe probe = GradientProbe.attach(net);
        INDArray x = Nd4j.create(X);
        x.putScalar(0, 0, Double.NaN);
        net.fit(new DataSet(x, Nd4j.create(T)));
        StepStats s = probe.lastStep();
        assertFalse(s.finite());
        assertTrue(s.nonFinite() > 0);
        assertTrue(s.nonFinite() <= net.numParams(), "cannot count more values than there are");
        assertTrue(Double.isNaN(s.globalNorm()));
        long sum = s.layers().stream().mapToLong(LayerStats::nonFinite).sum();
        assertEquals(s.nonFinite(), sum);
    }

    @Test
    void recurrentLayersReportRecurrentWeightsAndStableNames() {
        MultiLayerNetwork net = new MultiLayerNetwork(new NeuralNetConfiguration.Builder()
                .seed(1).dataType(DataType.FLOAT).updater(new Sgd(0.1)).list()
                .layer(new LSTM.Builder().nIn(2).nOut(4).build())
                .layer(new LastTimeStep(new SimpleRnn.Builder().nIn(4).nOut(3).build()))
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MSE).nIn(3).nOut(1)
                        .activation(Activation.IDENTITY).build())
                .build());
        net.init();
        GradientProbe probe = GradientProbe.attach(net);
        assertEquals(List.of("0_lstm", "1_rnn", "2_output"), probe.layerNames());
        net.fit(new DataSet(Nd4j.rand(DataType.FLOAT, 3, 2, 5), Nd4j.rand(DataType.FLOAT, 3, 1)));
        StepStats s = probe.lastStep();
        assertNotNull(s.layer("0_lstm").param("RW"));
        assertNotNull(s.layer("1_rnn").param("RW"));
        assertTrue(s.layers().stream().allMatch(l -> Double.isFinite(l.norm()) && l.norm() > 0));
    }

    /** The probe reads native memory directly; ND4J's own reductions on the same gradients must agree. */
    @Test
    void directMemoryReadsAgreeWithNd4jReductionsOnAFloatNetwork() {
        MultiLayerNetwork net = new MultiLayerNetwork(new NeuralNetConfiguration.Builder()
                .seed(4).dataType(DataType.FLOAT).updater(new Adam(0.01)).list()
                .layer(new LSTM.Builder().nIn(3).nOut(6).build())
                .layer(new LastTimeStep(new SimpleRnn.Builder().nIn(6).nOut(5).build()))
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(5).nOut(4)
                        .activation(Activation.SOFTMAX).build())
                .build());
        net.init();
        GradientProbe probe = GradientProbe.attach(net);
        java.util.Map<String, double[]> nd4j = new java.util.HashMap<>();
        net.addListeners(new org.deeplearning4j.optimize.api.BaseTrainingListener() {
            @Override
            public void onGradientCalculation(org.deeplearning4j.nn.api.Model m) {
                m.gradient().gradientForVariable().forEach((k, g) -> nd4j.put(k,
                        new double[] {g.norm2Number().doubleValue() / 7, g.amaxNumber().doubleValue() / 7}));
            }
        });
        INDArray labels = Nd4j.zeros(DataType.FLOAT, 7, 4);
        for (int i = 0; i < 7; i++) {
            labels.putScalar(i, i % 4, 1);
        }
        net.fit(new DataSet(Nd4j.rand(DataType.FLOAT, 7, 3, 9), labels));
        StepStats s = probe.lastStep();
        int index = 0;
        for (LayerStats l : s.layers()) {
            double layerMax = 0;
            for (ParamStats p : l.params()) {
                double[] expected = nd4j.get(index + "_" + p.param());
                assertEquals(expected[0], p.norm(), expected[0] * 1e-5, l.layer() + "/" + p.param());
                layerMax = Math.max(layerMax, expected[1]);
            }
            assertEquals(layerMax, l.maxAbs(), layerMax * 1e-6, l.layer());
            index++;
        }
    }

    /** A 3-4-2 graph, vertices {@code hidden} (tanh) and {@code out} (MSE), seed 2, in double precision; initialised. */
    static ComputationGraph smallGraph(IUpdater updater) {
        ComputationGraph graph = new ComputationGraph(new NeuralNetConfiguration.Builder()
                .seed(2).dataType(DataType.DOUBLE).updater(updater).graphBuilder()
                .addInputs("in")
                .addLayer("hidden", new DenseLayer.Builder().nIn(3).nOut(4).activation(Activation.TANH).build(), "in")
                .addLayer("out", new OutputLayer.Builder(LossFunctions.LossFunction.MSE).nIn(4).nOut(2)
                        .activation(Activation.IDENTITY).build(), "hidden")
                .setOutputs("out")
                .build());
        graph.init();
        return graph;
    }

    @Test
    void attachesToAComputationGraphByVertexName() {
        ComputationGraph graph = smallGraph(new Sgd(0.05));
        GradientProbe probe = GradientProbe.attach(graph);
        assertEquals(List.of("hidden", "out"), probe.layerNames());
        graph.fit(linearBatch());
        StepStats s = probe.lastStep();
        assertEquals(2, s.layers().size());
        assertTrue(s.globalNorm() > 0 && Double.isFinite(s.globalNorm()));
        assertTrue(Double.isFinite(s.layer("out").updateRatio()));
    }

    @Test
    void detachStopsMeasuring() {
        MultiLayerNetwork net = twoLayers(9);
        GradientProbe probe = GradientProbe.attach(net);
        List<StepStats> seen = new ArrayList<>();
        probe.addObserver(seen::add);
        net.fit(linearBatch());
        probe.detach();
        net.fit(linearBatch());
        assertEquals(1, seen.size());
        assertTrue(net.getListeners().isEmpty());
    }

    @Test
    void refusesAnUninitialisedNetwork() {
        MultiLayerNetwork net = new MultiLayerNetwork(new NeuralNetConfiguration.Builder().list()
                .layer(new OutputLayer.Builder().nIn(2).nOut(2).build()).build());
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> GradientProbe.attach(net));
        assertTrue(e.getMessage().contains("init()"));
    }

}
