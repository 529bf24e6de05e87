package dev.gradsentry.core.probe;

import dev.gradsentry.core.intervene.Guard;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.transferlearning.FineTuneConfiguration;
import org.deeplearning4j.nn.transferlearning.TransferLearning;
import org.deeplearning4j.nn.weights.WeightInit;
import org.deeplearning4j.optimize.api.BaseTrainingListener;
import org.deeplearning4j.optimize.api.TrainingListener;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Sgd;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import java.util.ArrayList;
import java.util.List;
import java.util.function.BiConsumer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Batch normalisation's running mean and variance sit in DL4J's gradient view like any parameter, but their
 * "gradient" is the statistics' own update, applied as it is (their updater is NoOp). Clipping must leave it alone,
 * and gradient statistics must not count it: it is not a gradient.
 */
class BatchNormalizationTest {

    private static MultiLayerNetwork net() {
        MultiLayerNetwork n = new MultiLayerNetwork(new NeuralNetConfiguration.Builder().seed(7)
                .dataType(DataType.FLOAT).updater(new Sgd(0.1)).list()
                .layer(new DenseLayer.Builder().nIn(4).nOut(6).activation(Activation.IDENTITY)
                        .weightInit(WeightInit.XAVIER).build())
                .layer(new BatchNormalization.Builder().nOut(6).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(6).nOut(3)
                        .activation(Activation.SOFTMAX).weightInit(WeightInit.XAVIER).build())
                .build());
        n.init();
        return n;
    }

    /** Inputs far from the running statistics' starting values (mean 0, variance 1), so they move a lot. */
    private static DataSet batch() {
        INDArray x = Nd4j.rand(DataType.FLOAT, 16, 4).muli(20).addi(5);
        INDArray y = Nd4j.zeros(DataType.FLOAT, 16, 3);
        for (int i = 0; i < 16; i++) {
            y.putScalar(i, i % 3, 1);
        }
        return new DataSet(x, y);
    }

    private static INDArray param(MultiLayerNetwork n, String key) {
        return n.getLayer(1).getParam(key).dup();
    }

    /** Trains one step on {@code data} with {@code edit} applied to the gradient before the update. */
    private static MultiLayerNetwork stepWith(DataSet data, BiConsumer<StepStats, GradientEdit> edit) {
        MultiLayerNetwork n = net();
        GradientProbe.attach(n).intercept(new GradientInterceptor() {
            @Override
            public void beforeUpdate(StepStats measured, GradientEdit e) {
                edit.accept(measured, e);
            }

            @Override
            public void afterUpdate(StepStats step, boolean undone) {
            }
        });
        n.fit(data);
        return n;
    }

    @Test
    void clippingLeavesTheRunningStatisticsUpdateAlone() {
        Nd4j.getRandom().setSeed(1);
        DataSet data = batch();
        MultiLayerNetwork plain = stepWith(data, (s, e) -> { });
        MultiLayerNetwork byLayer = stepWith(data, (s, e) -> s.layers().forEach(l -> e.scaleLayer(l.layer(), 1e-3)));
        MultiLayerNetwork byAll = stepWith(data, (s, e) -> e.scaleAll(1e-3));
        MultiLayerNetwork byValue = stepWith(data, (s, e) -> e.clipValue(1e-6));
        for (String stat : List.of("mean", "log10stdev")) {
            assertFalse(param(net(), stat).equals(param(plain, stat)), stat + " moves on this batch");
            for (MultiLayerNetwork clipped : List.of(byLayer, byAll, byValue)) {
                assertArrayEquals(param(plain, stat).toFloatVector(), param(clipped, stat).toFloatVector(), stat);
            }
        }
        assertFalse(param(plain, "gamma").equals(param(byLayer, "gamma")), "the trained parameters were clipped");
    }

    @Test
    void theLayersGradientStatisticsCountItsTrainedParametersOnly() {
        Nd4j.getRandom().setSeed(1);
        DataSet data = batch();
        MultiLayerNetwork n = net();
        GradientProbe probe = GradientProbe.attach(n);
        n.fit(data);
        LayerStats bn = probe.lastStep().layers().get(1);
        assertEquals("1_batchnormalization", bn.layer());
        assertEquals(List.of("gamma", "beta"), bn.params().stream().map(ParamStats::param).toList());
        double squares = bn.params().stream().mapToDouble(p -> p.norm() * p.norm()).sum();
        assertEquals(Math.sqrt(squares), bn.norm(), 1e-6 * bn.norm());
    }

    @Test
    void aNonFiniteRunningStatisticStillMakesTheStepNonFiniteAndTheGuardSkipsIt() {
        MultiLayerNetwork n = net();
        Guard guard = Guard.protect(n);
        // ahead of the guard's probe: only the running mean's update turns NaN, every gradient stays finite
        List<TrainingListener> listeners = new ArrayList<>();
        listeners.add(new BaseTrainingListener() {
            @Override
            public void onGradientCalculation(Model m) {
                m.gradient().gradientForVariable().get("1_mean").putScalar(0, Double.NaN);
            }
        });
        listeners.addAll(n.getListeners());
        n.setListeners(listeners);
        INDArray before = n.params().dup();
        n.fit(batch());
        LayerStats bn = guard.probe().lastStep().layers().get(1);
        assertEquals(1, bn.nonFinite());
        assertTrue(Double.isFinite(bn.norm()), "the gradients themselves are finite");
        assertEquals(1, guard.lostSteps());
        assertEquals(before, n.params(), "skipped: nothing moved, the running statistics included");
    }

    /** A frozen layer's parameters have the NoOp updater too: its entry is zero, and it is probed as not moving. */
    @Test
    void aFrozenLayerHasNoTrainedParametersAndReportsThatItDidNotMove() {
        MultiLayerNetwork frozen = new TransferLearning.Builder(net())
                .fineTuneConfiguration(new FineTuneConfiguration.Builder().updater(new Sgd(0.1)).build())
                .setFeatureExtractor(0).build();
        Guard guard = Guard.protect(frozen);
        GradientProbe probe = guard.probe().updateRatioEvery(1);
        frozen.fit(batch());
        LayerStats first = probe.lastStep().layers().get(0);
        assertEquals("0_dense", first.layer());
        assertTrue(first.params().isEmpty());
        assertEquals(0, first.norm());
        assertEquals(0, first.updateRatio());
        assertTrue(Double.isNaN(first.paramNorm()), "no trained weights to bound an update by");
        assertTrue(probe.lastStep().layers().get(2).updateRatio() > 0, "the layers above it train");
    }
}
