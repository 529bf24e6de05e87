package dev.gradsentry.core.clip;

import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

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
}
