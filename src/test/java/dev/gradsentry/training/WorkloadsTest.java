package dev.gradsentry.training;

import dev.gradsentry.core.probe.GradientProbe;
import dev.gradsentry.core.probe.StepStats;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.dataset.DataSet;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every workload on its real data: the healthy defaults train, the documented exploding configurations explode. */
class WorkloadsTest {

    private static Workloads workloads;

    @BeforeAll
    static void loadData() {
        FashionMnist data = FashionMnist.load(FashionMnist.DEBIAN_PATH);
        workloads = new Workloads(() -> data);
    }

    private static RunSpec withSteps(RunSpec s, long steps) {
        return new RunSpec(s.workload(), s.cell(), s.activation(), s.recurrentGain(), s.hidden(), s.optimizer(),
                s.learningRate(), s.batchSize(), steps, s.seed(), s.evalInterval(), Math.min(200, s.evalExamples()),
                s.sequenceLength());
    }

    private static RunSpec withCell(RunSpec s, RunSpec.Cell cell) {
        return new RunSpec(s.workload(), cell, s.activation(), s.recurrentGain(), s.hidden(), s.optimizer(),
                s.learningRate(), s.batchSize(), s.steps(), s.seed(), s.evalInterval(), s.evalExamples(),
                s.sequenceLength());
    }

    /** Trains {@code steps} steps and returns the last step's statistics. */
    private static StepStats train(TrainingSetup setup, int steps) {
        GradientProbe probe = setup.network().attachProbe();
        for (int i = 0; i < steps; i++) {
            setup.network().fit(setup.train().next());
        }
        return probe.lastStep();
    }

    @Test
    void fashionMlpLearns() {
        TrainingSetup setup = workloads.prepare(withSteps(RunSpec.defaults(WorkloadKind.FASHION_MLP), 60));
        double before = setup.evaluate(0).value();
        StepStats last = train(setup, 60);
        double after = setup.evaluate(60).value();
        assertEquals(java.util.List.of("0_dense", "1_dense", "2_output"), setup.network().attachProbe()
                .layerNames());
        assertTrue(last.finite());
        assertTrue(after > before + 0.2 && after > 0.5, "accuracy " + before + " -> " + after);
    }

    @Test
    void fashionRnnTrainsWithBothCells() {
        for (RunSpec.Cell cell : RunSpec.Cell.values()) {
            RunSpec spec = withCell(withSteps(RunSpec.defaults(WorkloadKind.FASHION_RNN), 3), cell);
            TrainingSetup setup = workloads.prepare(spec);
            StepStats last = train(setup, 3);
            assertTrue(last.finite(), cell + ": " + last);
            assertEquals(cell == RunSpec.Cell.LSTM ? "0_lstm" : "0_rnn", last.layers().get(0).layer());
            assertTrue(last.layers().get(0).param("RW").norm() > 0);
            assertEquals("accuracy", setup.metric());
        }
    }

    @Test
    void addingProblemTargetsAreTheSumOfTheMarkedValues() {
        DataSet batch = AddingProblem.batch(new Random(1), 50, 20);
        float[] f = batch.getFeatures().dup().data().asFloat();
        float[] y = batch.getLabels().dup().data().asFloat();
        for (int i = 0; i < 50; i++) {
            int base = i * 2 * 20;
            double sum = 0;
            int markers = 0;
            for (int t = 0; t < 20; t++) {
                if (f[base + 20 + t] == 1f) {
                    markers++;
                    sum += f[base + t];
                    assertEquals(t < 10 ? 1 : 2, markers, "one marker in each half");
                }
            }
            assertEquals(2, markers);
            assertEquals(sum, y[i], 1e-6);
        }
    }

    @Test
    void predictingOneOnTheAddingProblemGivesAboutOneSixth() {
        DataSet batch = AddingProblem.batch(new Random(3), 20_000, 100);
        double mse = batch.getLabels().sub(1.0).norm2Number().doubleValue();
        mse = mse * mse / 20_000;
        assertEquals(1.0 / 6, mse, 0.01);
    }

    @Test
    void addingTrains() {
        TrainingSetup setup = workloads.prepare(withSteps(RunSpec.defaults(WorkloadKind.ADDING), 3));
        StepStats last = train(setup, 3);
        assertTrue(last.finite());
        assertEquals("mse", setup.metric());
        assertTrue(Double.isFinite(setup.evaluate(3).value()));
    }

    @Test
    void sameSeedSameDataOrderOtherSeedOtherOrder() {
        RunSpec spec = withSteps(RunSpec.defaults(WorkloadKind.FASHION_MLP), 1);
        DataSet a = workloads.prepare(spec).train().next();
        DataSet b = workloads.prepare(spec).train().next();
        RunSpec other = new RunSpec(spec.workload(), spec.cell(), spec.activation(), spec.recurrentGain(),
                spec.hidden(), spec.optimizer(), spec.learningRate(), spec.batchSize(), 1, 43, 0, 10, 100);
        DataSet c = workloads.prepare(other).train().next();
        assertArrayEquals(a.getLabels().data().asFloat(), b.getLabels().data().asFloat());
        assertNotEquals(a.getFeatures(), c.getFeatures());
    }

    @Test
    void sequenceBatchesReadImagesRowByRow() {
        FashionMnist.Split split = new FashionMnist.Split(new float[784], new int[] {4});
        split.pixels()[3 * 28 + 5] = 0.5f; // row 3, column 5
        DataSet seq = Workloads.fashionBatch(split, new int[] {0}, 0, 1, true);
        assertArrayEquals(new long[] {1, 28, 28}, seq.getFeatures().shape());
        assertEquals(0.5f, seq.getFeatures().getFloat(0, 5, 3), 0f, "feature = column, time step = row");
        assertEquals(1f, seq.getLabels().getFloat(0, 4), 0f);
    }

    @Test
    void explodingMlpConfigurationExplodes() {
        TrainingSetup setup = workloads.prepare(withSteps(RunSpec.exploding(WorkloadKind.FASHION_MLP), 5));
        GradientProbe probe = setup.network().attachProbe();
        double peak = 0;
        for (int i = 0; i < 5; i++) {
            setup.network().fit(setup.train().next());
            peak = Math.max(peak, probe.lastStep().globalNorm());
        }
        assertTrue(peak > 1000 || !probe.lastStep().finite(), "peak global norm " + peak);
    }

    @Test
    void explodingRecurrentConfigurationsReachNaN() {
        for (WorkloadKind kind : new WorkloadKind[] {WorkloadKind.FASHION_RNN, WorkloadKind.ADDING}) {
            TrainingSetup setup = workloads.prepare(withSteps(RunSpec.exploding(kind), 40));
            GradientProbe probe = setup.network().attachProbe();
            int firstNonFinite = -1;
            for (int i = 0; i < 40 && firstNonFinite < 0; i++) {
                setup.network().fit(setup.train().next());
                if (!probe.lastStep().finite()) {
                    firstNonFinite = i;
                }
            }
            assertTrue(firstNonFinite >= 0, kind + " stayed finite for 40 steps");
            assertFalse(probe.lastStep().finite());
        }
    }
}
