package dev.gradsentry.core.clip;

import dev.gradsentry.core.detect.Signal;
import dev.gradsentry.core.probe.LayerStats;
import dev.gradsentry.core.probe.ParamStats;
import dev.gradsentry.core.probe.StepStats;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

class LayerNormClipTest {

    @Test
    void givesEveryLayerOfTheStepTheThresholdOnEveryStep() {
        LayerNormClip policy = new LayerNormClip(0.75);
        double[] norms = {0.0, 0.3, 0.75, 2.5, 1e9};
        ClipDecision expected = new ClipDecision.LayerNorm(Map.of("0_dense", 0.75, "1_output", 0.75));
        for (int i = 0; i < norms.length; i++) {
            assertEquals(expected, policy.decide(Steps.step(i, norms[i]), Signal.QUIET));
        }
        assertEquals(expected, policy.decide(Steps.step(5, 1e9), new Signal(false, true, 40, "global", true)));
    }

    @Test
    void theKeysAreTheLayersOfTheStep() {
        StepStats graph = new StepStats(0, 0, 32, 0.5, 0.1, 3, 1, 0, List.of(
                new LayerStats("embed", 1, 1, 0, Double.NaN, List.of(new ParamStats("W", 1, 0))),
                new LayerStats("lstm", 2, 1, 0, Double.NaN,
                        List.of(new ParamStats("W", 1, 0), new ParamStats("RW", 1, 0), new ParamStats("b", 1, 0))),
                new LayerStats("out", 2, 1, 0, Double.NaN, List.of(new ParamStats("W", 2, 0)))));
        assertEquals(new ClipDecision.LayerNorm(Map.of("embed", 2.0, "lstm", 2.0, "out", 2.0)),
                new LayerNormClip(2).decide(graph, Signal.QUIET));
    }

    @Test
    void nameSettingsAndCopy() {
        LayerNormClip policy = new LayerNormClip(0.75);
        assertEquals("norm", policy.name());
        assertEquals(Map.of("threshold", 0.75), policy.settings());
        assertThrows(UnsupportedOperationException.class, () -> policy.settings().put("threshold", 1.0));
        ClipPolicy copy = policy.copy();
        assertNotSame(policy, copy);
        assertInstanceOf(LayerNormClip.class, copy);
        assertEquals(policy.settings(), copy.settings());
    }

    @ParameterizedTest
    @ValueSource(doubles = {Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, 0.0, -0.0, -1.0})
    void rejectsThresholdsThatAreNotFinitePositive(double bad) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new LayerNormClip(bad));
        assertEquals("threshold must be a finite number > 0, was " + bad, e.getMessage());
    }
}
