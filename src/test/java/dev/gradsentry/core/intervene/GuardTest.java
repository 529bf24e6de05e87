package dev.gradsentry.core.intervene;

import dev.gradsentry.core.InterventionKind;
import dev.gradsentry.core.clip.AdaptiveClip;
import dev.gradsentry.core.clip.ClipPolicy;
import dev.gradsentry.core.clip.FixedClip;
import dev.gradsentry.core.clip.NoClip;
import dev.gradsentry.core.clip.Agc;
import dev.gradsentry.core.probe.GradientInjection;
import dev.gradsentry.core.probe.GradientProbe;
import dev.gradsentry.core.probe.StepStats;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.optimize.api.BaseTrainingListener;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.learning.config.Nesterovs;
import org.nd4j.linalg.learning.config.Sgd;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import java.time.Clock;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static dev.gradsentry.core.InterventionKind.CLIP_ENABLE;
import static dev.gradsentry.core.InterventionKind.CLIP_TIGHTEN;
import static dev.gradsentry.core.InterventionKind.LR_BACKOFF;
import static dev.gradsentry.core.InterventionKind.PAUSE;
import static dev.gradsentry.core.InterventionKind.ROLLBACK;
import static dev.gradsentry.core.InterventionKind.SKIP;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class GuardTest {

    private static MultiLayerNetwork net(long seed, org.nd4j.linalg.learning.config.IUpdater updater) {
        MultiLayerNetwork net = new MultiLayerNetwork(new NeuralNetConfiguration.Builder()
                .seed(seed).dataType(DataType.DOUBLE).updater(updater).list()
                .layer(new DenseLayer.Builder().nIn(4).nOut(8).activation(Activation.TANH).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MSE).nIn(8).nOut(2)
                        .activation(Activation.IDENTITY).build())
                .build());
        net.init();
        return net;
    }

    /** A fixed regression task: y = (x0 + x1, x2 - x3) plus noise, batches in seed order. */
    private static List<DataSet> batches(int n, long seed) {
        Random r = new Random(seed);
        List<DataSet> list = new ArrayList<>();
        for (int b = 0; b < n; b++) {
            double[][] x = new double[16][4];
            double[][] y = new double[16][2];
            for (int i = 0; i < 16; i++) {
                for (int j = 0; j < 4; j++) {
                    x[i][j] = r.nextGaussian();
                }
                y[i][0] = x[i][0] + x[i][1] + 0.01 * r.nextGaussian();
                y[i][1] = x[i][2] - x[i][3];
            }
            list.add(new DataSet(Nd4j.create(x), Nd4j.create(y)));
        }
        return list;
    }

    private record Protected(MultiLayerNetwork net, GradientProbe probe, GradientInjection inject, Guard guard,
                             List<Intervention> events) {
    }

    private static Protected protect(MultiLayerNetwork net, ClipPolicy policy, GuardSettings settings) {
        GradientProbe probe = GradientProbe.attach(net);
        GradientInjection inject = GradientInjection.before(net);
        Guard guard = new Guard(net, "test", policy, settings, Clock.systemUTC());
        List<Intervention> events = new ArrayList<>();
        guard.addListener(events::add);
        probe.intercept(guard);
        return new Protected(net, probe, inject, guard, events);
    }

    /** Attaching before init() failed with a bare NullPointerException from deep inside the guard. */
    @Test
    void protectingANetworkBeforeItsInitSaysToCallInitFirst() {
        MultiLayerNetwork net = new MultiLayerNetwork(new NeuralNetConfiguration.Builder().list()
                .layer(new OutputLayer.Builder().nIn(2).nOut(2).build()).build());
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> Guard.protect(net));
        assertEquals("MultiLayerNetwork has no layers yet: call its init() before Guard.protect or "
                + "GradientProbe.attach", e.getMessage());
        ComputationGraph graph = new ComputationGraph(new NeuralNetConfiguration.Builder().graphBuilder()
                .addInputs("in").addLayer("out", new OutputLayer.Builder().nIn(2).nOut(2).build(), "in")
                .setOutputs("out").build());
        e = assertThrows(IllegalStateException.class, () -> Guard.protect(graph));
        assertTrue(e.getMessage().startsWith("ComputationGraph has no layers yet: call its init()"), e.getMessage());
        net.init();
        assertTrue(Guard.protect(net).attached(), "after init() it attaches");
    }

    @Test
    void aNaNGradientStepIsSkippedLeavingWeightsAndUpdaterStateBitwiseUnchanged() {
        Protected p = protect(net(1, new Adam(0.01)), AdaptiveClip.defaults(), GuardSettings.defaults());
        List<DataSet> data = batches(40, 2);
        for (int i = 0; i < 30; i++) {
            p.net().fit(data.get(i));
        }
        int k = p.net().getIterationCount();
        p.inject().at(k, Double.NaN);
        INDArray params = p.net().params().dup();
        INDArray state = p.net().getUpdater().getStateViewArray().dup();
        p.net().fit(data.get(30));
        assertFalse(p.probe().lastStep().finite(), "the injected NaN must be measured");
        assertEquals(params, p.net().params(), "weights must be bitwise unchanged");
        assertEquals(state, p.net().getUpdater().getStateViewArray(), "updater state must be bitwise unchanged");
        assertEquals(k, p.net().getIterationCount(), "a skipped step does not count");
        assertEquals(1, p.events().stream().filter(e -> e.kind() == SKIP).count());
        Intervention skip = p.events().stream().filter(e -> e.kind() == SKIP).findFirst().orElseThrow();
        assertEquals("non-finite-gradient", skip.reason());
        assertEquals(30, skip.step());
        p.net().fit(data.get(31));
        assertTrue(p.probe().lastStep().finite(), "training continues");
        assertNotEquals(params, p.net().params());
    }

    /**
     * A loss function that reports NaN while its gradient stays finite, as DL4J's log-loss does in half precision once
     * a probability underflows (measured: a healthy 8-32-32-4 MLP in {@code DataType.HALF} had a NaN score at step
     * 133 with every gradient and weight finite, and trained on unguarded).
     */
    public static final class LossUnderflowing extends org.nd4j.linalg.lossfunctions.impl.LossMSE {
        static volatile boolean underflow;

        @Override
        public double computeScore(INDArray labels, INDArray preOutput,
                                   org.nd4j.linalg.activations.IActivation activationFn, INDArray mask,
                                   boolean average) {
            return underflow ? Double.NaN : super.computeScore(labels, preOutput, activationFn, mask, average);
        }
    }

    /**
     * In half precision a NaN loss whose gradient and weights are finite is DL4J's log-loss underflowing, not broken
     * weights: the guard passes over it (it rolled back, halving the learning rate, from the first one on). In full
     * precision the same NaN loss still rolls back.
     */
    @Test
    void aHalfPrecisionNaNLossWithAFiniteGradientIsNotTakenForBrokenWeights() {
        for (DataType type : new DataType[] {DataType.HALF, DataType.DOUBLE}) {
            MultiLayerNetwork net = new MultiLayerNetwork(new NeuralNetConfiguration.Builder()
                    .seed(1).dataType(type).updater(new Sgd(0.05)).list()
                    .layer(new DenseLayer.Builder().nIn(4).nOut(8).activation(Activation.TANH).build())
                    .layer(new OutputLayer.Builder(new LossUnderflowing()).nIn(8).nOut(2)
                            .activation(Activation.IDENTITY).build())
                    .build());
            net.init();
            Protected p = protect(net, AdaptiveClip.defaults(), GuardSettings.defaults());
            List<DataSet> data = batches(160, 2);
            try {
                for (int i = 0; i < 160; i++) {
                    LossUnderflowing.underflow = i == 100 || (i >= 150 && i < 155);
                    p.net().fit(data.get(i).copy());
                }
            } finally {
                LossUnderflowing.underflow = false;
            }
            if (type == DataType.HALF) {
                assertEquals(List.of(), p.events(), "half precision");
                assertEquals(0.05, p.net().getLearningRate(0), 1e-12);
                assertEquals(160, p.net().getIterationCount());
            } else {
                assertEquals(List.of(CLIP_ENABLE, ROLLBACK, LR_BACKOFF),
                        p.events().stream().filter(e -> e.step() == 100).map(Intervention::kind).toList());
            }
        }
    }

    @Test
    void nonFiniteGradientsThreeStepsInARowRollBackInsteadOfSkippingForever() {
        Protected p = protect(net(1, new Adam(0.01)), AdaptiveClip.defaults(), GuardSettings.defaults());
        List<DataSet> data = batches(140, 2);
        for (int i = 0; i < 120; i++) {
            p.net().fit(data.get(i));
        }
        int k = p.net().getIterationCount();
        for (int j = 0; j < 3; j++) {
            p.inject().at(k, Double.NaN);
            p.net().fit(data.get(120 + j));
        }
        List<InterventionKind> kinds = p.events().stream().filter(e -> e.step() >= 120).map(Intervention::kind)
                .toList();
        assertEquals(List.of(CLIP_ENABLE, SKIP, CLIP_TIGHTEN, SKIP, CLIP_TIGHTEN, ROLLBACK, LR_BACKOFF),
                kinds);
        Intervention rollback = p.events().stream().filter(e -> e.kind() == ROLLBACK).findFirst().orElseThrow();
        assertEquals("non-finite-gradient", rollback.reason());
        assertEquals("3 steps within 20 had to be skipped (the last for non-finite-gradient)", rollback.detail());
        assertTrue(p.net().getIterationCount() < k, "back on a state kept before the trouble");
        p.net().fit(data.get(123));
        assertTrue(p.probe().lastStep().finite(), "training continues");
        assertEquals(0.005, p.net().getLearningRate(0), 1e-12);
    }

    @Test
    void aLossFarAboveItsWindowTellsTheAdaptivePolicyOnceBeforeItRollsBack() {
        AdaptiveClip policy = AdaptiveClip.defaults();
        Protected p = protect(net(1, new Adam(0.01)), policy, GuardSettings.defaults());
        List<DataSet> data = batches(80, 2);
        for (int i = 0; i < 60; i++) {
            p.net().fit(data.get(i));
        }
        // Targets 100 times larger: the loss jumps far above its window on every following step.
        for (int i = 60; i < 62; i++) {
            DataSet d = data.get(i);
            p.net().fit(new DataSet(d.getFeatures(), d.getLabels().mul(100)));
        }
        List<Intervention> late = p.events().stream().filter(e -> e.step() >= 60).toList();
        assertEquals(CLIP_ENABLE, late.get(0).kind(), late.toString());
        assertEquals(60, late.get(0).step());
        // The streak's second step tightens nothing more: one burst of bad batches is one lost step (until the
        // fifth session every step of it tightened at once, past the cooldown; docs/benchmarks.md item 29).
        assertTrue(late.stream().noneMatch(e -> e.kind() == CLIP_TIGHTEN), late.toString());
        assertTrue(p.events().stream().noneMatch(e -> e.kind() == ROLLBACK), "not yet diverging for long");
    }

    @Test
    void aSpikeMakesTheAdaptivePolicyClipOnThatSameStep() {
        Protected p = protect(net(3, new Sgd(0.01)), AdaptiveClip.defaults(), GuardSettings.defaults());
        List<DataSet> data = batches(60, 4);
        for (int i = 0; i < 40; i++) {
            p.net().fit(data.get(i));
        }
        assertTrue(p.events().isEmpty(), "a healthy run is left alone: " + p.events());
        p.inject().at(p.net().getIterationCount(), 50);
        INDArray before = p.net().params().dup();
        p.net().fit(data.get(40));
        assertTrue(p.guard().lastClipped());
        Intervention enable = p.events().get(0);
        assertEquals(CLIP_ENABLE, enable.kind());
        assertEquals(40, enable.step());
        assertTrue(enable.applied());
        // SGD moves each layer by lr * its clipped gradient: bounded by lr * threshold, not lr * 50x the norm
        double moved = p.net().params().sub(before).norm2Number().doubleValue();
        double bound = 0.01 * Math.sqrt(p.guard().layerThresholds().values().stream()
                .mapToDouble(t -> t * t).sum());
        assertTrue(moved <= bound * 1.0001, moved + " > " + bound);
    }

    @Test
    void observeModeChangesNoWeightButRecordsTheDecisionsAutoTakesFirst() {
        List<DataSet> data = batches(60, 6);
        Protected observed = protect(net(5, new Adam(0.01)), AdaptiveClip.defaults(),
                GuardSettings.defaults().withMode(GuardMode.OBSERVE));
        Protected auto = protect(net(5, new Adam(0.01)), AdaptiveClip.defaults(), GuardSettings.defaults());
        for (Protected p : List.of(observed, auto)) {
            p.inject().at(30, 100);
        }
        for (int i = 0; i < 40; i++) {
            observed.net().fit(data.get(i));
            auto.net().fit(data.get(i));
        }
        assertFalse(observed.events().isEmpty());
        assertTrue(observed.events().stream().noneMatch(Intervention::applied));
        Intervention o = observed.events().get(0);
        Intervention a = auto.events().get(0);
        assertEquals(List.of(a.step(), a.kind(), a.reason(), a.after()), List.of(o.step(), o.kind(), o.reason(),
                o.after()));
        // Observe mode must not touch the weights: compare with a twin that saw the same injected gradients
        Protected off = protect(net(5, new Adam(0.01)), AdaptiveClip.defaults(),
                GuardSettings.defaults().withMode(GuardMode.OFF));
        off.inject().at(30, 100);
        for (int i = 0; i < 40; i++) {
            off.net().fit(data.get(i));
        }
        assertTrue(Arrays.equals(off.net().params().data().asDouble(), observed.net().params().data().asDouble()),
                "observe mode changed the weights");
        assertFalse(Arrays.equals(auto.net().params().data().asDouble(), observed.net().params().data().asDouble()),
                "auto mode acted, so its weights differ");
        assertTrue(off.events().isEmpty());
    }

    @Test
    void aLateDivergenceIsRolledBackAndTheLearningRateBackedOff() {
        GuardSettings settings = new GuardSettings(GuardMode.AUTO, 20, 0.5, 0, 8, 1000, 1000, 4.0, 20, 3.0, 3, 0.05);
        Protected p = protect(net(7, new Sgd(0.05)), new NoClip(), settings);
        List<DataSet> data = batches(400, 8);
        for (int i = 0; i < 150; i++) {
            p.net().fit(data.get(i));
        }
        double healthyLoss = p.probe().lastStep().loss();
        assertTrue(p.events().isEmpty(), p.events().toString());
        p.net().setLearningRate(20); // a late blow-up, as from a bad schedule
        for (int i = 150; i < 300 && !p.guard().paused(); i++) {
            p.net().fit(data.get(i));
        }
        List<InterventionKind> kinds = p.events().stream().map(Intervention::kind).toList();
        assertTrue(kinds.contains(ROLLBACK), kinds.toString());
        Intervention backoff = p.events().stream().filter(e -> e.kind() == LR_BACKOFF).findFirst()
                .orElseThrow();
        assertEquals(20, backoff.before(), 1e-12);
        assertEquals(10, backoff.after(), 1e-12);
        assertFalse(p.guard().paused(), kinds.toString());
        StepStats last = p.probe().lastStep();
        assertTrue(last.finite());
        assertTrue(last.learningRate() < 1, "backed off to " + last.learningRate());
        assertTrue(last.loss() < 3 * healthyLoss + 0.5, "recovered: " + last.loss() + " vs " + healthyLoss);
    }

    @Test
    void afterTooManyFailedRecoveriesTheGuardPausesOnTheLastGoodState() {
        GuardSettings settings = new GuardSettings(GuardMode.AUTO, 10, 0.9, 0, 2, 1000, 1000, 4.0, 20, 3.0, 2, 0.05);
        Protected p = protect(net(9, new Sgd(0.05)), new NoClip(), settings);
        List<DataSet> data = batches(200, 10);
        for (int i = 0; i < 50; i++) {
            p.net().fit(data.get(i));
        }
        p.net().setLearningRate(1e4);
        int i = 50;
        while (!p.guard().paused() && i < 200) {
            p.net().fit(data.get(i++));
        }
        assertTrue(p.guard().paused());
        assertEquals(PAUSE, p.events().get(p.events().size() - 1).kind());
        assertEquals(2, p.events().stream().filter(e -> e.kind() == ROLLBACK).count());
        assertTrue(Double.isFinite(p.net().params().sumNumber().doubleValue()), "weights are the last good ones");
    }

    /**
     * A snapshot's arrays are reused for a later one (saves a native allocation every 50 healthy steps), so after many
     * snapshots a rollback must still land bitwise on the state kept then, updater state included.
     */
    @Test
    void aRollbackAfterManyRecycledSnapshotsRestoresBitwiseTheStateKeptThen() {
        GuardSettings settings = new GuardSettings(GuardMode.AUTO, 5, 0.5, 0, 8, 1000, 1000, 4.0, 20, 3.0, 3, 0.05);
        Protected p = protect(net(3, new Adam(0.01)), new NoClip(), settings);
        java.util.Map<Integer, INDArray[]> kept = new java.util.HashMap<>();
        p.net().addListeners(new BaseTrainingListener() {
            @Override
            public void iterationDone(Model model, int iteration, int epoch) {
                kept.put(iteration + 1, new INDArray[] {model.params().dup(),
                        p.net().getUpdater().getStateViewArray().dup()});
            }
        });
        List<DataSet> data = batches(110, 4);
        for (int i = 0; i < 100; i++) {
            p.net().fit(data.get(i));
        }
        int k = p.net().getIterationCount();
        for (int j = 0; j < 3; j++) {
            p.inject().at(k, Double.NaN);
            p.net().fit(data.get(100 + j));
        }
        assertEquals(1, p.events().stream().filter(e -> e.kind() == ROLLBACK).count());
        int back = p.net().getIterationCount();
        assertTrue(back < k && back > 80, "back on the last good state, kept after step " + back);
        assertEquals(kept.get(back)[0], p.net().params(), "weights bitwise those kept");
        assertEquals(kept.get(back)[1], p.net().getUpdater().getStateViewArray(), "updater state bitwise that kept");
    }

    /**
     * Before its first step a DL4J network has no updater, so the guard's first snapshot has no updater state. A
     * rollback to that snapshot must still leave the updater as it was then (momentum zero), not holding the momentum
     * the rolled-back step built from its raw gradient: found on a relu RNN with Nesterov momentum, where the first
     * step after such a rollback moved the weights from norm 16 to 1e9.
     */
    @Test
    void aRollbackToTheStateBeforeTheFirstStepResetsTheUpdaterToo() {
        GuardSettings settings = new GuardSettings(GuardMode.AUTO, 50, 0.5, 0, 8, 1000, 1000, 4.0, 20, 3.0, 3, 0.05);
        Protected p = protect(net(3, new Nesterovs(0.01, 0.9)), new NoClip(), settings);
        INDArray initial = p.net().params().dup();
        List<DataSet> data = batches(20, 4);
        for (int i = 0; i < 5; i++) {
            p.net().fit(data.get(i));
        }
        INDArray zeroMomentum = p.net().getUpdater().getStateViewArray().like().assign(0);
        for (int j = 5; j < 20 && p.events().stream().noneMatch(e -> e.kind() == ROLLBACK); j++) {
            p.inject().at(p.net().getIterationCount(), Double.NaN);
            p.net().fit(data.get(j));
        }
        assertEquals(1, p.events().stream().filter(e -> e.kind() == ROLLBACK).count());
        assertEquals(0, p.net().getIterationCount(), "back before the first step");
        assertEquals(initial, p.net().params(), "the initial weights");
        assertEquals(zeroMomentum, p.net().getUpdater().getStateViewArray(), "the updater as before the first step");
    }

    /** The first step of all, skipped, leaves the updater as it was: no momentum from the skipped gradient. */
    @Test
    void aSkippedFirstStepLeavesTheUpdaterStateAsItWas() {
        Protected p = protect(net(3, new Nesterovs(0.01, 0.9)), AdaptiveClip.defaults(), GuardSettings.defaults());
        p.inject().at(0, Double.NaN);
        p.net().fit(batches(1, 4).get(0));
        assertEquals(1, p.events().stream().filter(e -> e.kind() == SKIP).count());
        INDArray state = p.net().getUpdater().getStateViewArray();
        assertEquals(state.like().assign(0), state, "momentum untouched by the skipped step");
    }

    /** A checkpoint may still be writing the snapshots of a saved state: later snapshots must not reuse them. */
    @Test
    void aSavedStatesSnapshotsStayAsTheyWereWhileTrainingGoesOn() {
        GuardSettings settings = new GuardSettings(GuardMode.AUTO, 5, 0.5, 0, 8, 1000, 1000, 4.0, 20, 3.0, 3, 0.05);
        Protected p = protect(net(3, new Adam(0.01)), new NoClip(), settings);
        List<DataSet> data = batches(100, 4);
        for (int i = 0; i < 32; i++) {
            p.net().fit(data.get(i));
        }
        GuardState saved = p.guard().saveState();
        INDArray lastGood = saved.lastGood().params().dup();
        INDArray candidate = saved.candidate().params().dup();
        for (int i = 32; i < 100; i++) {
            p.net().fit(data.get(i));
        }
        assertEquals(lastGood, saved.lastGood().params(), "the saved last good state");
        assertEquals(candidate, saved.candidate().params(), "the saved candidate");
    }

    /** Measures the gradient after the guard edited it, just before the updater. */
    private static final class AppliedGradient extends BaseTrainingListener {
        INDArray gradient;
        int batch;

        @Override
        public void onGradientCalculation(Model model) {
            INDArray view = model.getGradientsViewArray();
            gradient = view.dup().reshape(view.length());
            batch = (int) model.batchSize();
        }
    }

    private static AppliedGradient measureAfter(Protected p) {
        AppliedGradient applied = new AppliedGradient();
        p.net().addListeners(applied);
        return applied;
    }

    @Test
    void globalNormClipLeavesExactlyTheThreshold() {
        Protected p = protect(net(11, new Sgd(0.01)), FixedClip.globalNorm(0.05), GuardSettings.defaults());
        AppliedGradient applied = measureAfter(p);
        p.net().fit(batches(1, 12).get(0));
        assertTrue(p.probe().lastStep().globalNorm() > 0.05, "the test needs a binding threshold");
        assertEquals(0.05, applied.gradient.norm2Number().doubleValue() / applied.batch, 1e-12);
    }

    @Test
    void layerNormClipCapsEachLayer() {
        Protected p = protect(net(13, new Sgd(0.01)), FixedClip.norm(0.02), GuardSettings.defaults());
        AppliedGradient applied = measureAfter(p);
        p.net().fit(batches(1, 14).get(0));
        long offset = 0;
        for (org.deeplearning4j.nn.api.Layer layer : p.net().getLayers()) {
            long n = layer.numParams();
            double norm = applied.gradient.get(org.nd4j.linalg.indexing.NDArrayIndex.interval(offset, offset + n))
                    .norm2Number().doubleValue() / applied.batch;
            double measured = p.probe().lastStep().layers().get(layer.getIndex()).norm();
            assertEquals(Math.min(measured, 0.02), norm, 1e-12, "layer " + layer.getIndex());
            offset += n;
        }
    }

    @Test
    void valueClipBoundsEveryBatchAveragedValue() {
        Protected p = protect(net(15, new Sgd(0.01)), FixedClip.value(0.01), GuardSettings.defaults());
        AppliedGradient applied = measureAfter(p);
        p.net().fit(batches(1, 16).get(0));
        assertTrue(p.probe().lastStep().maxAbs() > 0.01, "the test needs a binding threshold");
        assertEquals(0.01, applied.gradient.amaxNumber().doubleValue() / applied.batch, 1e-12);
    }

    @Test
    void unitWiseClipCapsEachColumnRelativeToItsWeights() {
        MultiLayerNetwork net = net(17, new Sgd(0.01));
        INDArray w0 = net.getParam("0_W").dup();
        Protected p = protect(net, new Agc(0.001, 1e-3), GuardSettings.defaults());
        AppliedGradient applied = measureAfter(p);
        p.net().fit(batches(1, 18).get(0));
        INDArray g0 = applied.gradient.get(org.nd4j.linalg.indexing.NDArrayIndex.interval(0, w0.length()))
                .reshape('f', w0.rows(), w0.columns());
        INDArray gNorms = g0.norm2(0).div(applied.batch);
        INDArray wNorms = w0.norm2(0);
        for (int c = 0; c < w0.columns(); c++) {
            double limit = 0.001 * Math.max(wNorms.getDouble(c), 1e-3);
            assertTrue(gNorms.getDouble(c) <= limit * (1 + 1e-9), "column " + c + ": " + gNorms.getDouble(c)
                    + " > " + limit);
        }
    }
}
