package dev.gradsentry.metrics;

import dev.gradsentry.core.clip.FixedClip;
import dev.gradsentry.core.intervene.Guard;
import dev.gradsentry.core.intervene.GuardSettings;
import dev.gradsentry.core.probe.GradientInjection;
import dev.gradsentry.core.probe.GradientProbe;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.dataset.DataSet;

import java.time.Clock;

import static org.junit.jupiter.api.Assertions.assertEquals;

class GuardMetersTest {

    private static double count(SimpleMeterRegistry registry, String name, String layer) {
        return registry.get(name).tag("layer", layer).counter().count();
    }

    @Test
    void clippedStepsAreCountedPerLayerAndSkippedOnesByTheirCause() {
        MultiLayerNetwork net = SmallNetwork.initialised();
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        GuardMeters meters = new GuardMeters(Tags.empty());
        meters.bindTo(registry);
        GradientProbe probe = GradientProbe.attach(net).addObserver(meters);
        GradientInjection inject = GradientInjection.before(net);
        // A global-norm threshold far under any norm: every step is clipped, in every layer.
        Guard guard = new Guard(net, "test", FixedClip.globalNorm(1e-9), GuardSettings.defaults(), Clock.systemUTC());
        guard.addListener(meters);
        probe.intercept(guard);
        meters.guardAttached(guard);
        DataSet batch = SmallNetwork.batch();
        for (int i = 0; i < 10; i++) {
            net.fit(batch);
        }
        inject.at(net.getIterationCount(), Double.NaN);
        net.fit(batch);
        assertEquals(10.0, count(registry, GuardMeters.CLIPPED_STEPS, "0_dense"));
        assertEquals(10.0, count(registry, GuardMeters.CLIPPED_STEPS, "1_output"));
        assertEquals(1.0, count(registry, GuardMeters.SKIPPED_STEPS, "global"), "the NaN step was skipped");
    }

    @Test
    void skipCountersExistAtZeroBeforeTheFirstSkipSoThatIncreaseCountsIt() {
        MultiLayerNetwork net = SmallNetwork.initialised();
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        GuardMeters meters = new GuardMeters(Tags.empty());
        meters.bindTo(registry);
        GradientProbe probe = GradientProbe.attach(net).addObserver(meters);
        Guard guard = new Guard(net, "test", FixedClip.globalNorm(1e9), GuardSettings.defaults(), Clock.systemUTC());
        guard.addListener(meters);
        probe.intercept(guard);
        meters.guardAttached(guard);
        assertEquals(0.0, count(registry, GuardMeters.SKIPPED_STEPS, "global"), "there as soon as the guard is");
        net.fit(SmallNetwork.batch());
        assertEquals(0.0, count(registry, GuardMeters.SKIPPED_STEPS, "0_dense"), "there once the layers are known");
        assertEquals(0.0, count(registry, GuardMeters.SKIPPED_STEPS, "1_output"));
    }

    @Test
    void theGlobalSkipCounterExistsAtZeroAlsoWhenTheMetersAreBoundAfterTheGuardWasAttached() {
        MultiLayerNetwork net = SmallNetwork.initialised();
        GuardMeters meters = new GuardMeters(Tags.empty());
        Guard guard = new Guard(net, "test", FixedClip.globalNorm(1e9), GuardSettings.defaults(), Clock.systemUTC());
        meters.guardAttached(guard);
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        meters.bindTo(registry);
        assertEquals(0.0, count(registry, GuardMeters.SKIPPED_STEPS, "global"));
    }
}
