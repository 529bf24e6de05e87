package dev.gradsentry.core.clip;

import dev.gradsentry.core.probe.LayerStats;
import dev.gradsentry.core.probe.ParamStats;
import dev.gradsentry.core.probe.StepStats;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ClipDecisionTest {

    @Test
    void scalingMultipliesEveryThresholdAndLeavesTheRestAlone() {
        assertEquals(new ClipDecision.None(), new ClipDecision.None().scaledBy(0.5));
        assertEquals(new ClipDecision.GlobalNorm(0.5), new ClipDecision.GlobalNorm(1).scaledBy(0.5));
        assertEquals(new ClipDecision.LayerNorm(Map.of("a", 1.0, "b", 0.25)),
                new ClipDecision.LayerNorm(Map.of("a", 2.0, "b", 0.5)).scaledBy(0.5));
        assertEquals(new ClipDecision.ParamNorm(0.5), new ClipDecision.ParamNorm(1).scaledBy(0.5));
        assertEquals(new ClipDecision.Value(0.05), new ClipDecision.Value(0.1).scaledBy(0.5));
        assertEquals(new ClipDecision.UnitWise(0.005, 1e-3), new ClipDecision.UnitWise(0.01, 1e-3).scaledBy(0.5),
                "eps is a floor on the weights, not a threshold");
    }

    @Test
    void eachDecisionSaysWhichLayersItChanges() {
        StepStats step = new StepStats(0, 0, 32, 0.5, 0.1, 5.0, 3.0, 0, List.of(
                new LayerStats("0_dense", 3.0, 3.0, 0, Double.NaN, List.of(new ParamStats("W", 3.0, 0))),
                new LayerStats("1_output", 4.0, 0.5, 0, Double.NaN, List.of(new ParamStats("W", 2.0, 0),
                        new ParamStats("b", 2.0, 0)))));
        LayerStats dense = step.layers().get(0);
        LayerStats output = step.layers().get(1);
        assertFalse(new ClipDecision.None().bindsLayer(step, dense));
        assertTrue(new ClipDecision.GlobalNorm(4.9).bindsLayer(step, dense), "the global norm scales every layer");
        assertFalse(new ClipDecision.GlobalNorm(5.1).bindsLayer(step, output));
        ClipDecision.LayerNorm layers = new ClipDecision.LayerNorm(Map.of("0_dense", 3.5, "1_output", 3.5));
        assertFalse(layers.bindsLayer(step, dense));
        assertTrue(layers.bindsLayer(step, output));
        assertTrue(new ClipDecision.ParamNorm(2.5).bindsLayer(step, dense));
        assertFalse(new ClipDecision.ParamNorm(2.5).bindsLayer(step, output), "each parameter is under 2.5");
        assertTrue(new ClipDecision.Value(1.0).bindsLayer(step, dense));
        assertFalse(new ClipDecision.Value(1.0).bindsLayer(step, output));
    }
}
