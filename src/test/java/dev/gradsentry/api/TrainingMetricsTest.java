package dev.gradsentry.api;

import dev.gradsentry.core.probe.LayerStats;
import dev.gradsentry.core.probe.ParamStats;
import dev.gradsentry.core.probe.StepStats;
import dev.gradsentry.metrics.GradientMeters;
import dev.gradsentry.metrics.RunMeters;
import dev.gradsentry.training.Evaluation;
import dev.gradsentry.training.RunSpec;
import dev.gradsentry.training.RunState;
import dev.gradsentry.training.WorkloadKind;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TrainingMetricsTest {

    private SimpleMeterRegistry registry;
    private TrainingMetrics metrics;

    @BeforeEach
    void bind() {
        registry = new SimpleMeterRegistry();
        metrics = new TrainingMetrics();
        metrics.bindTo(registry);
    }

    private static StepStats step(long iteration, double loss, String... layers) {
        List<LayerStats> list = new java.util.ArrayList<>();
        double global = 0;
        for (int i = 0; i < layers.length; i++) {
            double norm = i + 1.5;
            list.add(new LayerStats(layers[i], norm, norm / 2, 0, 0.001 * (i + 1),
                    List.of(new ParamStats("W", norm * 0.8, 0), new ParamStats("b", norm * 0.6, 0))));
            global += norm * norm;
        }
        return new StepStats(iteration, 0, 32, loss, 0.1, Math.sqrt(global), 2.0, 0, list);
    }

    private double gauge(String name, String... tags) {
        return registry.get(name).tags(tags).gauge().value();
    }

    @Test
    void everyMeterHasADescription() {
        metrics.runStarted("r1", RunSpec.defaults(WorkloadKind.FASHION_MLP));
        metrics.onStep(step(0, 1.0, "0_dense", "1_output"));
        for (Meter m : registry.getMeters()) {
            String name = m.getId().getName();
            boolean derivedBySimpleRegistry = name.endsWith(".histogram")
                    && registry.find(name.substring(0, name.length() - ".histogram".length())).meter() != null;
            if (derivedBySimpleRegistry) {
                continue; // SimpleMeterRegistry's bucket view of a summary or timer, absent from Prometheus
            }
            assertNotNull(m.getId().getDescription(), m.getId().getName());
            assertTrue(m.getId().getName().startsWith("gradsentry."), m.getId().getName());
        }
    }

    @Test
    void gaugesReadTheLatestStep() {
        metrics.runStarted("r1", RunSpec.defaults(WorkloadKind.FASHION_MLP));
        assertTrue(Double.isNaN(gauge(GradientMeters.LOSS)));
        metrics.onStep(step(0, 2.5, "0_dense", "1_output"));
        metrics.onStep(step(1, 1.25, "0_dense", "1_output"));
        assertEquals(1.25, gauge(GradientMeters.LOSS));
        assertEquals(2.0, gauge(RunMeters.RUN_STEP));
        assertEquals(2.5, gauge(GradientMeters.LAYER_NORM, "layer", "1_output"));
        assertEquals(2.5 * 0.8, gauge(GradientMeters.PARAM_NORM, "layer", "1_output", "param", "W"));
        assertEquals(0.002, gauge(GradientMeters.LAYER_UPDATE_RATIO, "layer", "1_output"));
        assertEquals(Math.sqrt(1.5 * 1.5 + 2.5 * 2.5), gauge(GradientMeters.GLOBAL_NORM), 1e-12);
        assertEquals(2.0, registry.get(GradientMeters.STEPS).counter().count());
        assertEquals(2, registry.get(GradientMeters.GLOBAL_NORM_HISTOGRAM).summary().count());
    }

    @Test
    void theWindowGaugesKeepAOneStepSpikeThatTheLastStepGaugeLost() {
        metrics.runStarted("r1", RunSpec.defaults(WorkloadKind.FASHION_MLP));
        StepStats calm = step(0, 1.0, "0_dense", "1_output");
        LayerStats spiked = new LayerStats("1_output", 400.0, 90.0, 0, Double.NaN, calm.layers().get(1).params());
        metrics.onStep(calm);
        metrics.onStep(new StepStats(1, 0, 32, 1.0, 0.1, 400.0, 90.0, 0, List.of(calm.layers().get(0), spiked)));
        metrics.onStep(step(2, 1.0, "0_dense", "1_output"));
        assertEquals(2.5, gauge(GradientMeters.LAYER_NORM, "layer", "1_output"), "the last step's gauge");
        assertEquals(400.0, gauge(GradientMeters.LAYER_NORM_WINDOW_MAX, "layer", "1_output"));
        assertEquals(2.5, gauge(GradientMeters.LAYER_NORM_WINDOW_MIN, "layer", "1_output"));
        assertEquals(1.5, gauge(GradientMeters.LAYER_NORM_WINDOW_MAX, "layer", "0_dense"));
        assertEquals(400.0, gauge(GradientMeters.GLOBAL_NORM_WINDOW_MAX));
        assertEquals(calm.globalNorm(), gauge(GradientMeters.GLOBAL_NORM_WINDOW_MIN), 1e-12);
    }

    @Test
    void nonFiniteStepsAreCountedPerLayer() {
        metrics.runStarted("r1", RunSpec.defaults(WorkloadKind.FASHION_MLP));
        StepStats ok = step(0, 1.0, "0_dense", "1_output");
        LayerStats nan = new LayerStats("1_output", Double.NaN, Double.NaN, 7, Double.NaN, ok.layers().get(1).params());
        metrics.onStep(ok);
        metrics.onStep(new StepStats(1, 0, 32, 1.0, 0.1, Double.NaN, Double.NaN, 7, List.of(ok.layers().get(0), nan)));
        metrics.onStep(ok);
        assertEquals(1.0, registry.get(GradientMeters.LAYER_NONFINITE_STEPS).tag("layer", "1_output").counter().count());
        assertEquals(0.0, registry.get(GradientMeters.LAYER_NONFINITE_STEPS).tag("layer", "0_dense").counter().count());
    }

    @Test
    void nonFiniteStepsAreCountedAndKeptOutOfTheHistogram() {
        metrics.runStarted("r1", RunSpec.defaults(WorkloadKind.FASHION_MLP));
        StepStats ok = step(0, 1.0, "0_dense");
        StepStats bad = new StepStats(1, 0, 32, Double.NaN, 0.1, Double.NaN, Double.NaN, 3, ok.layers());
        metrics.onStep(ok);
        metrics.onStep(bad);
        assertEquals(1.0, registry.get(GradientMeters.NONFINITE_STEPS).counter().count());
        assertEquals(1, registry.get(GradientMeters.GLOBAL_NORM_HISTOGRAM).summary().count());
    }

    @Test
    void aRunWithOtherLayersReplacesTheLayerSeries() {
        metrics.runStarted("r1", RunSpec.defaults(WorkloadKind.FASHION_MLP));
        metrics.onStep(step(0, 1.0, "0_dense", "1_dense", "2_output"));
        metrics.runStarted("r2", RunSpec.defaults(WorkloadKind.FASHION_RNN));
        metrics.onStep(step(0, 1.0, "0_lstm", "1_output"));
        assertNull(registry.find(GradientMeters.LAYER_NORM).tag("layer", "0_dense").gauge());
        assertNull(registry.find(GradientMeters.PARAM_NORM).tag("layer", "2_output").gauge());
        assertNotNull(registry.find(GradientMeters.LAYER_NORM).tag("layer", "0_lstm").gauge());
        assertEquals(2, registry.find(GradientMeters.LAYER_NORM).gauges().size());
        assertEquals(4, registry.find(GradientMeters.PARAM_NORM).gauges().size());
    }

    @Test
    void progressIsTheStepsDoneAgainstTheRunsPlannedSteps() {
        assertTrue(Double.isNaN(gauge(RunMeters.RUN_PLANNED_STEPS)), "no run yet");
        metrics.runStarted("r1", RunSpec.defaults(WorkloadKind.FASHION_MLP));
        metrics.onStep(step(0, 1.0, "0_dense"));
        assertEquals(RunSpec.defaults(WorkloadKind.FASHION_MLP).steps(), gauge(RunMeters.RUN_PLANNED_STEPS));
        assertEquals(1.0, gauge(RunMeters.RUN_STEP));
        metrics.runStarted("r2", RunSpec.defaults(WorkloadKind.ADDING));
        assertEquals(RunSpec.defaults(WorkloadKind.ADDING).steps(), gauge(RunMeters.RUN_PLANNED_STEPS),
                "a new run replaces the plan");
    }

    @Test
    void runIdentityIsOneInfoSeriesAtATime() {
        metrics.runStarted("r1", RunSpec.defaults(WorkloadKind.FASHION_MLP));
        metrics.runStarted("r2", RunSpec.defaults(WorkloadKind.ADDING));
        var infos = registry.find(RunMeters.RUN_INFO).gauges();
        assertEquals(1, infos.size());
        assertEquals("r2", infos.iterator().next().getId().getTag("run"));
        assertEquals("adding", infos.iterator().next().getId().getTag("workload"));
        for (Meter m : registry.getMeters()) {
            if (!m.getId().getName().equals(RunMeters.RUN_INFO)) {
                assertNull(m.getId().getTag("run"), m.getId().getName() + " must not carry the run id");
            }
        }
    }

    @Test
    void runStateIsOneHotAndEachHeldOutMetricHasItsOwnMeter() {
        metrics.runStarted("r1", RunSpec.defaults(WorkloadKind.FASHION_MLP));
        assertEquals(1.0, gauge(RunMeters.RUN_STATE, "state", "running"));
        metrics.evaluated(new Evaluation("accuracy", 0.75, 100));
        metrics.runEnded("r1", RunState.FINISHED);
        assertEquals(0.0, gauge(RunMeters.RUN_STATE, "state", "running"));
        assertEquals(1.0, gauge(RunMeters.RUN_STATE, "state", "finished"));
        assertEquals(0.75, gauge(RunMeters.EVALUATION_ACCURACY));
        assertTrue(Double.isNaN(gauge(RunMeters.EVALUATION_MSE)));
        assertFalse(registry.getMeters().isEmpty());
    }
}
