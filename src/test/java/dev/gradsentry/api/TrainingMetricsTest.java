package dev.gradsentry.api;

import dev.gradsentry.core.clip.AdaptiveClip;
import dev.gradsentry.core.intervene.Guard;
import dev.gradsentry.core.intervene.GuardSettings;
import dev.gradsentry.core.probe.GradientProbe;
import dev.gradsentry.metrics.GradientMeters;
import dev.gradsentry.metrics.GuardMeters;
import dev.gradsentry.metrics.RunMeters;
import dev.gradsentry.metrics.SmallNetwork;
import dev.gradsentry.training.Evaluation;
import dev.gradsentry.training.RunSpec;
import dev.gradsentry.training.RunState;
import dev.gradsentry.training.WorkloadKind;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.dataset.DataSet;

import java.time.Clock;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The service's meters of a run: those of the guarded network (tested on their own in {@code GradSentryMetersTest})
 * and those of the run it drives, fed as a run feeds them.
 */
class TrainingMetricsTest {

    private SimpleMeterRegistry registry;
    private TrainingMetrics metrics;

    @BeforeEach
    void bind() {
        registry = new SimpleMeterRegistry();
        metrics = new TrainingMetrics();
        metrics.bindTo(registry);
    }

    /** A network whose probe and guard are attached as a run attaches them; each {@code fit} is one step. */
    private MultiLayerNetwork attachedNetwork() {
        MultiLayerNetwork net = SmallNetwork.initialised();
        GradientProbe probe = GradientProbe.attach(net);
        Guard guard = new Guard(net, "r1", AdaptiveClip.defaults(), GuardSettings.defaults(), Clock.systemUTC());
        probe.intercept(guard);
        metrics.attach(probe, guard);
        return net;
    }

    private double gauge(String name, String... tags) {
        return registry.get(name).tags(tags).gauge().value();
    }

    @Test
    void everyMeterHasADescription() {
        metrics.runStarted("r1", RunSpec.defaults(WorkloadKind.FASHION_MLP));
        attachedNetwork().fit(SmallNetwork.batch());
        metrics.stepTimed(1_000_000);
        assertNotNull(registry.find(GradientMeters.LAYER_NORM).tag("layer", "0_dense").gauge(), "a layer meter");
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
    void theRunsStepsReachTheGradientTheGuardAndTheRunMeters() {
        metrics.runStarted("r1", RunSpec.defaults(WorkloadKind.FASHION_MLP));
        MultiLayerNetwork net = attachedNetwork();
        DataSet batch = SmallNetwork.batch();
        net.fit(batch);
        net.fit(batch);
        assertEquals(2.0, gauge(RunMeters.RUN_STEP));
        assertEquals(2.0, registry.get(GradientMeters.STEPS).counter().count());
        assertNotNull(registry.find(GuardMeters.CLIP_THRESHOLD).tag("layer", "1_output").gauge());
        assertEquals(1.0, gauge(GuardMeters.CLIP_SCALE));
    }

    @Test
    void progressIsTheStepsDoneAgainstTheRunsPlannedSteps() {
        assertTrue(Double.isNaN(gauge(RunMeters.RUN_PLANNED_STEPS)), "no run yet");
        metrics.runStarted("r1", RunSpec.defaults(WorkloadKind.FASHION_MLP));
        attachedNetwork().fit(SmallNetwork.batch());
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
