package dev.gradsentry.metrics;

import dev.gradsentry.core.clip.FixedClip;
import dev.gradsentry.core.intervene.Guard;
import dev.gradsentry.core.intervene.GuardSettings;
import dev.gradsentry.core.probe.GradientInjection;
import dev.gradsentry.core.probe.GradientProbe;
import dev.gradsentry.core.probe.LayerStats;
import dev.gradsentry.core.probe.ParamStats;
import dev.gradsentry.core.probe.StepStats;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.dataset.DataSet;

import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The meters of a guarded network, as a user binds them in their own code ({@code Guard.protect} and this binder)
 * and as the service binds them for each run.
 */
class GradSentryMetersTest {

    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();

    private static StepStats step(long iteration, double loss, String... layers) {
        List<LayerStats> list = new ArrayList<>();
        double global = 0;
        for (int i = 0; i < layers.length; i++) {
            double norm = i + 1.5;
            list.add(new LayerStats(layers[i], norm, norm / 2, 0, 0.001 * (i + 1),
                    List.of(new ParamStats("W", norm * 0.8, 0), new ParamStats("b", norm * 0.6, 0))));
            global += norm * norm;
        }
        return new StepStats(iteration, 0, 32, loss, 0.1, Math.sqrt(global), 2.0, 0, list);
    }

    private static GradSentryMeters unattached() {
        return new GradSentryMeters(Tags.empty(), Duration.ofSeconds(GradientMeters.DEFAULT_WINDOW_SECONDS));
    }

    private double gauge(String name, String... tags) {
        return registry.get(name).tags(tags).gauge().value();
    }

    @Test
    void protectAndOneBinderGiveTheGradientAndGuardMetersOfEachLayer() {
        MultiLayerNetwork net = SmallNetwork.initialised();
        Guard guard = Guard.protect(net);
        new GradSentryMeters(guard).bindTo(registry);
        DataSet batch = SmallNetwork.batch();
        for (int i = 0; i < 5; i++) {
            net.fit(batch);
        }
        StepStats last = guard.probe().lastStep();
        assertEquals(List.of("0_dense", "1_output"), guard.probe().layerNames());
        assertEquals(5.0, registry.get(GradientMeters.STEPS).counter().count());
        assertEquals(last.loss(), gauge(GradientMeters.LOSS));
        assertEquals(last.globalNorm(), gauge(GradientMeters.GLOBAL_NORM));
        for (LayerStats layer : last.layers()) {
            assertEquals(layer.norm(), gauge(GradientMeters.LAYER_NORM, "layer", layer.layer()), layer.layer());
            assertEquals(layer.params().get(0).norm(),
                    gauge(GradientMeters.PARAM_NORM, "layer", layer.layer(), "param", "W"), layer.layer());
            assertNotNull(registry.find(GuardMeters.CLIP_THRESHOLD).tag("layer", layer.layer()).gauge(),
                    layer.layer());
        }
        assertEquals(1.0, gauge(GuardMeters.CLIP_SCALE), "the guard's own scale: nothing tightened it");
        assertFalse(Double.isNaN(gauge(GuardMeters.CLIP_ACTIVE)), "the guard saw the steps");
    }

    @Test
    void theGuardsInterventionsAreCountedByKindAndReason() {
        MultiLayerNetwork net = SmallNetwork.initialised();
        GradientProbe probe = GradientProbe.attach(net);
        GradientInjection inject = GradientInjection.before(net);
        Guard guard = new Guard(net, "test", FixedClip.globalNorm(1e-9), GuardSettings.defaults(), Clock.systemUTC());
        probe.intercept(guard);
        GradSentryMeters meters = unattached();
        meters.bindTo(registry);
        meters.attach(probe, guard);
        DataSet batch = SmallNetwork.batch();
        for (int i = 0; i < 4; i++) {
            net.fit(batch);
        }
        inject.at(net.getIterationCount(), Double.NaN);
        net.fit(batch);
        assertEquals(4.0, registry.get(GuardMeters.CLIPPED_STEPS).tag("layer", "0_dense").counter().count());
        assertEquals(1.0, registry.get(GuardMeters.SKIPPED_STEPS).tag("layer", "global").counter().count());
        assertEquals(1.0, registry.get(GuardMeters.INTERVENTIONS).tag("kind", "skip").tag("applied", "true")
                .counter().count());
    }

    @Test
    void bindingAfterTheFirstStepsStillRegistersTheLayerMetersAtTheNextStep() {
        MultiLayerNetwork net = SmallNetwork.initialised();
        Guard guard = Guard.protect(net);
        GradSentryMeters meters = new GradSentryMeters(guard);
        DataSet batch = SmallNetwork.batch();
        net.fit(batch);
        net.fit(batch);
        meters.bindTo(registry);
        net.fit(batch);
        assertEquals(guard.probe().lastStep().layers().get(1).norm(),
                gauge(GradientMeters.LAYER_NORM, "layer", "1_output"));
        assertNotNull(registry.find(GradientMeters.LAYER_NONFINITE_STEPS).tag("layer", "0_dense").counter());
        assertNotNull(registry.find(GuardMeters.CLIP_THRESHOLD).tag("layer", "0_dense").gauge());
        assertEquals(1.0, registry.get(GradientMeters.STEPS).counter().count(), "steps counted once bound");
    }

    @Test
    void aGuardBuiltByHandIsRefusedWithWhatToDoInstead() {
        MultiLayerNetwork net = SmallNetwork.initialised();
        Guard byHand = new Guard(net, "test", FixedClip.globalNorm(1.0), GuardSettings.defaults(), Clock.systemUTC());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new GradSentryMeters(byHand));
        assertTrue(e.getMessage().contains("attach(probe, guard)"), e.getMessage());
    }

    @Test
    void extraTagsAreOnEveryMeterAndEveryMeterHasADescription() {
        MultiLayerNetwork net = SmallNetwork.initialised();
        new GradSentryMeters(Guard.protect(net), Tags.of("model", "mine")).bindTo(registry);
        net.fit(SmallNetwork.batch());
        assertFalse(registry.getMeters().isEmpty());
        for (Meter m : registry.getMeters()) {
            String name = m.getId().getName();
            boolean derivedBySimpleRegistry = name.endsWith(".histogram")
                    && registry.find(name.substring(0, name.length() - ".histogram".length())).meter() != null;
            if (derivedBySimpleRegistry) {
                continue; // SimpleMeterRegistry's bucket view of a summary, absent from Prometheus
            }
            assertEquals("mine", m.getId().getTag("model"), name);
            assertNotNull(m.getId().getDescription(), name);
            assertTrue(name.startsWith("gradsentry."), name);
        }
    }

    @Test
    void gaugesReadTheLatestStep() {
        GradSentryMeters meters = unattached();
        meters.bindTo(registry);
        meters.runStarted();
        assertTrue(Double.isNaN(gauge(GradientMeters.LOSS)));
        meters.onStep(step(0, 2.5, "0_dense", "1_output"));
        meters.onStep(step(1, 1.25, "0_dense", "1_output"));
        assertEquals(1.25, gauge(GradientMeters.LOSS));
        assertEquals(2.5, gauge(GradientMeters.LAYER_NORM, "layer", "1_output"));
        assertEquals(2.5 * 0.8, gauge(GradientMeters.PARAM_NORM, "layer", "1_output", "param", "W"));
        assertEquals(0.002, gauge(GradientMeters.LAYER_UPDATE_RATIO, "layer", "1_output"));
        assertEquals(Math.sqrt(1.5 * 1.5 + 2.5 * 2.5), gauge(GradientMeters.GLOBAL_NORM), 1e-12);
        assertEquals(2.0, registry.get(GradientMeters.STEPS).counter().count());
        assertEquals(2, registry.get(GradientMeters.GLOBAL_NORM_HISTOGRAM).summary().count());
    }

    @Test
    void theWindowGaugesKeepAOneStepSpikeThatTheLastStepGaugeLost() {
        GradSentryMeters meters = unattached();
        meters.bindTo(registry);
        StepStats calm = step(0, 1.0, "0_dense", "1_output");
        LayerStats spiked = new LayerStats("1_output", 400.0, 90.0, 0, Double.NaN, calm.layers().get(1).params());
        meters.onStep(calm);
        meters.onStep(new StepStats(1, 0, 32, 1.0, 0.1, 400.0, 90.0, 0, List.of(calm.layers().get(0), spiked)));
        meters.onStep(step(2, 1.0, "0_dense", "1_output"));
        assertEquals(2.5, gauge(GradientMeters.LAYER_NORM, "layer", "1_output"), "the last step's gauge");
        assertEquals(400.0, gauge(GradientMeters.LAYER_NORM_WINDOW_MAX, "layer", "1_output"));
        assertEquals(2.5, gauge(GradientMeters.LAYER_NORM_WINDOW_MIN, "layer", "1_output"));
        assertEquals(1.5, gauge(GradientMeters.LAYER_NORM_WINDOW_MAX, "layer", "0_dense"));
        assertEquals(400.0, gauge(GradientMeters.GLOBAL_NORM_WINDOW_MAX));
        assertEquals(calm.globalNorm(), gauge(GradientMeters.GLOBAL_NORM_WINDOW_MIN), 1e-12);
    }

    @Test
    void nonFiniteStepsAreCountedPerLayer() {
        GradSentryMeters meters = unattached();
        meters.bindTo(registry);
        StepStats ok = step(0, 1.0, "0_dense", "1_output");
        LayerStats nan = new LayerStats("1_output", Double.NaN, Double.NaN, 7, Double.NaN, ok.layers().get(1).params());
        meters.onStep(ok);
        meters.onStep(new StepStats(1, 0, 32, 1.0, 0.1, Double.NaN, Double.NaN, 7, List.of(ok.layers().get(0), nan)));
        meters.onStep(ok);
        assertEquals(1.0, registry.get(GradientMeters.LAYER_NONFINITE_STEPS).tag("layer", "1_output").counter().count());
        assertEquals(0.0, registry.get(GradientMeters.LAYER_NONFINITE_STEPS).tag("layer", "0_dense").counter().count());
    }

    @Test
    void nonFiniteStepsAreCountedAndKeptOutOfTheHistogram() {
        GradSentryMeters meters = unattached();
        meters.bindTo(registry);
        StepStats ok = step(0, 1.0, "0_dense");
        StepStats bad = new StepStats(1, 0, 32, Double.NaN, 0.1, Double.NaN, Double.NaN, 3, ok.layers());
        meters.onStep(ok);
        meters.onStep(bad);
        assertEquals(1.0, registry.get(GradientMeters.NONFINITE_STEPS).counter().count());
        assertEquals(1, registry.get(GradientMeters.GLOBAL_NORM_HISTOGRAM).summary().count());
    }

    @Test
    void aRunWithOtherLayersReplacesTheLayerSeries() {
        GradSentryMeters meters = unattached();
        meters.bindTo(registry);
        meters.runStarted();
        meters.onStep(step(0, 1.0, "0_dense", "1_dense", "2_output"));
        meters.runStarted();
        meters.onStep(step(0, 1.0, "0_lstm", "1_output"));
        assertNull(registry.find(GradientMeters.LAYER_NORM).tag("layer", "0_dense").gauge());
        assertNull(registry.find(GradientMeters.PARAM_NORM).tag("layer", "2_output").gauge());
        assertNotNull(registry.find(GradientMeters.LAYER_NORM).tag("layer", "0_lstm").gauge());
        assertEquals(2, registry.find(GradientMeters.LAYER_NORM).gauges().size());
        assertEquals(4, registry.find(GradientMeters.PARAM_NORM).gauges().size());
    }
}
