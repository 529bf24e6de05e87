package dev.gradsentry.bench;

import dev.gradsentry.bench.StabilityBench.Entry;
import dev.gradsentry.bench.StabilityBench.Plan;
import dev.gradsentry.bench.StabilityConfig.Half;
import dev.gradsentry.bench.StabilityConfig.Row;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Nesterovs;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The stability benchmark's plan, its filters, its late troubles and its "steps lost", without training anything. */
class StabilityPlanTest {

    private static final Plan FULL = StabilityBench.fullPlan();

    @Test
    void everyExplodingAndLateTroubleRowIsInAHalfAndEachHalfHasBothKinds() {
        for (StabilityConfig c : FULL.configs()) {
            boolean trouble = c.row() == Row.EXPLODING || c.row() == Row.LATE;
            assertEquals(trouble, c.half() != Half.CONTROL, c.name());
        }
        for (Half half : List.of(Half.TUNING, Half.VALIDATION)) {
            List<StabilityConfig> of = FULL.split(half).configs();
            assertTrue(of.stream().anyMatch(c -> c.row() == Row.EXPLODING), half.label());
            assertTrue(of.stream().anyMatch(c -> c.row() == Row.LATE), half.label());
            assertTrue(of.stream().allMatch(c -> c.half() == half), half.label());
        }
    }

    @Test
    void theHalvesAndTheControlsPartitionThePlan() {
        List<String> all = new ArrayList<>();
        for (Half half : Half.values()) {
            FULL.split(half).configs().forEach(c -> all.add(c.name()));
        }
        assertEquals(FULL.configs().size(), all.size());
        assertEquals(new HashSet<>(FULL.configs().stream().map(StabilityConfig::name).toList()), new HashSet<>(all),
                "names are unique and every row is in exactly one split");
    }

    @Test
    void everyRowHasTheBarsContendersAndEnoughSeeds() {
        Set<String> bar = new HashSet<>(StabilityBench.barContenders().stream().map(Contender::label).toList());
        for (Entry e : FULL.entries()) {
            Set<String> labels = new HashSet<>(e.contenders().stream().map(Contender::label).toList());
            switch (e.config().row()) {
                case EXPLODING, LATE -> {
                    assertTrue(labels.containsAll(bar), e.config().name());
                    assertTrue(e.seeds() >= 3, e.config().name());
                }
                case HEALTHY -> {
                    assertEquals(Set.of(Contender.none().label(), Contender.protect().label()), labels);
                    assertTrue(e.seeds() >= 5, e.config().name());
                }
                case ARTICLE -> assertTrue(labels.contains(Contender.protect().label()));
            }
        }
    }

    /**
     * Counting every run to its last step, although runs that go NaN without a guard stop there. The budget was an
     * hour until the Adam tuning row (2026-12-01) added five minutes, and the adding rows' 2,000 steps (issue 10 asks
     * for horizons where the best fixed threshold gets near its converged result) about 35 more, and the held-out
     * recall row on Nesterov momentum (2026-12-01) ten more, and the two held-out Nesterov rows of 2026-12-02
     * seventeen more, and the two held-out Nesterov rows of the second session of 2026-12-02 about sixteen more and
     * its batch-norm tuning row about eight (156 planned then), and the two Nesterov tuning rows of the sixth session
     * of 2026-12-02 about twenty-four more (180 planned then); three splits run side by side on two cores.
     */
    @Test
    void theFullPlanFitsOneHundredAndNinetyMinutesOfOneCoreByItsOwnStepTimes() {
        double seconds = FULL.entries().stream()
                .mapToDouble(e -> e.runs() * e.config().steps() * e.config().msPerStepGuess() / 1000).sum();
        assertTrue(seconds <= 190 * 60, "planned " + seconds / 60 + " min");
    }

    @Test
    void filtersNarrowThePlan() {
        Plan one = FULL.only(Set.of("fashion-mlp")).onlyContenders(Set.of("none", "guard (defaults)")).withSeeds(1);
        assertEquals(1, one.entries().size());
        assertEquals(2, one.runs());
        Plan bySlug = FULL.only(Set.of(StabilityBench.slug("adding T=10")));
        assertEquals(List.of("adding T=10"), bySlug.configs().stream().map(StabilityConfig::name).toList());
        assertTrue(FULL.onlyContenders(Set.of("autoclip")).configs().size() < FULL.configs().size(),
                "rows without AutoClip drop out");
        assertThrows(IllegalArgumentException.class, () -> Half.of("training"));
    }

    @Test
    void stepsLostCountFromTheOnsetToTheFirstEvaluationBackAtThePreTroubleLevel() {
        StabilityConfig accuracy = Plans.nanBatch(400, 25, 200);
        long[] at = {175, 200, 225, 250, 275, 300};
        assertEquals(0, StabilityRun.stepsLost(accuracy, 200, at, new double[] {0.8, 0.8, 0.795, 0.5, 0.5, 0.5}),
                "back within a point at the first evaluation after the onset");
        assertEquals(50, StabilityRun.stepsLost(accuracy, 200, at, new double[] {0.8, 0.8, 0.1, 0.5, 0.79, 0.8}));
        assertEquals(200, StabilityRun.stepsLost(accuracy, 200, at, new double[] {0.8, 0.8, 0.1, 0.1, 0.1, 0.1}),
                "never back: the rest of the run");
        assertEquals(200, StabilityRun.stepsLost(accuracy, 200, new long[] {200}, new double[] {0.8}),
                "stopped right after the onset");
        assertEquals(StabilityRun.NO_REFERENCE,
                StabilityRun.stepsLost(accuracy, 200, at, new double[] {0.8, Double.NaN, 0.8, 0.8, 0.8, 0.8}));
        StabilityConfig mse = Configurations.adding("mse", Row.LATE, Half.TUNING, "-", Plans.addingShort(10, 10)
                .recipe(), 400, 25, 0.1, new Trouble.NaNBatch(200), 1);
        assertEquals(25, StabilityRun.stepsLost(mse, 200, at, new double[] {0.1, 0.1, 0.2, 0.105, 0.09, 0.09}),
                "5% relative MSE above the pre-trouble level counts as back");
    }

    @Test
    void aScaledBatchAndANaNBatchHitOnlyTheOnsetAndANaNOnlyTheFirstExample() {
        Trouble scaled = new Trouble.ScaledBatch(3, 1e4);
        assertEquals(1.0, scaled.apply(2, batch()).getFeatures().getDouble(0, 0));
        assertEquals(1e4, scaled.apply(3, batch()).getFeatures().getDouble(1, 2));
        Trouble nan = new Trouble.NaNBatch(3);
        assertEquals(0, nanCount(nan.apply(4, batch()).getFeatures()));
        INDArray hit = nan.apply(3, batch()).getFeatures();
        assertEquals(hit.size(1), nanCount(hit));
        assertTrue(Double.isNaN(hit.getDouble(0, 1)));
        assertFalse(Double.isNaN(hit.getDouble(1, 1)));
    }

    @Test
    void labelNoiseShufflesLabelsAcrossExamplesOnlyInsideItsWindow() {
        Trouble noise = new Trouble.LabelNoise(10, 5);
        DataSet clean = batch();
        assertEquals(clean.getLabels(), noise.apply(9, batch()).getLabels());
        assertEquals(clean.getLabels(), noise.apply(15, batch()).getLabels());
        INDArray shuffled = noise.apply(12, batch()).getLabels();
        assertFalse(clean.getLabels().equals(shuffled), "some label moved");
        assertEquals(clean.getLabels().sum(0), shuffled.sum(0), "the same labels, in another order");
    }

    @Test
    void aLearningRateJumpIsPartOfTheNetworksOwnSchedule() {
        MultiLayerNetwork net = BenchNetworks.mlp(1, 4, 2, 8, Activation.TANH, 3, new Nesterovs(0.05, 0.9));
        new Trouble.LearningRateJump(200, 0.05, 20).prepare(net);
        var updater = ((org.deeplearning4j.nn.conf.layers.BaseLayer) net.getLayer(0).conf().getLayer())
                .getIUpdater();
        assertEquals(0.05, updater.getLearningRate(199, 0), 1e-12);
        assertEquals(1.0, updater.getLearningRate(200, 0), 1e-12);
        assertEquals(1.0, updater.getLearningRate(5000, 0), 1e-12);
    }

    private static long nanCount(INDArray a) {
        long n = 0;
        for (double v : a.ravel().toDoubleVector()) {
            if (Double.isNaN(v)) {
                n++;
            }
        }
        return n;
    }

    /** 16 examples of 3 features, all 1, with one-hot labels of 4 classes, each class 4 times. */
    private static DataSet batch() {
        INDArray labels = Nd4j.zeros(16, 4);
        for (int i = 0; i < 16; i++) {
            labels.putScalar(i, i % 4, 1.0);
        }
        return new DataSet(Nd4j.ones(16, 3), labels);
    }
}
