package dev.gradsentry.core.clip;

import dev.gradsentry.core.detect.Signal;
import dev.gradsentry.core.probe.LayerStats;
import dev.gradsentry.core.probe.ParamStats;
import dev.gradsentry.core.probe.StepStats;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

class AdaptiveClipTest {

    private static final Signal SPIKE = new Signal(false, true, 9, "global", false);

    private static StepStats step(double dense, double out) {
        return new StepStats(0, 0, 32, 1.0, 0.1, Math.hypot(dense, out), 1, 0, List.of(
                new LayerStats("0_dense", dense, 1, 0, Double.NaN, List.of(new ParamStats("W", dense, 0))),
                new LayerStats("1_output", out, 1, 0, Double.NaN, List.of(new ParamStats("W", out, 0)))));
    }

    /** percentile 50, window 4, tighten 0.5, floor 0.25, cooldown 2, relax after 3 */
    private static AdaptiveClip small() {
        return new AdaptiveClip(50, 4, 0.5, 0.25, 2, 3);
    }

    @Test
    void observesWhileHealthy() {
        AdaptiveClip p = small();
        for (int i = 0; i < 10; i++) {
            assertInstanceOf(ClipDecision.None.class, p.decide(step(1 + i, 10), Signal.QUIET));
            assertNull(p.lastChange());
        }
    }

    @Test
    void enablesAtThePercentileOfEachLayersHealthyWindow() {
        AdaptiveClip p = small();
        double[] dense = {1, 2, 3, 4, 5};
        for (double d : dense) {
            p.decide(step(d, 100 * d), Signal.QUIET);
        }
        // window 4 keeps 2,3,4,5: the median is 3.5 for the dense layer and 350 for the output layer
        ClipDecision d = p.decide(step(1000, 1e5), SPIKE);
        assertEquals(new ClipDecision.LayerNorm(Map.of("0_dense", 3.5, "1_output", 350.0)), d);
        assertEquals("clip-enable", p.lastChange().kind());
        assertEquals(3.5, p.lastChange().after());
    }

    @Test
    void aShortHistoryEnablesAtItsSmallestNormAndLostStepsTightenDespiteTheCooldown() {
        AdaptiveClip p = AdaptiveClip.defaults();
        for (double d : new double[] {1, 3, 9}) {
            p.decide(step(d, 10 * d), Signal.QUIET); // norms that grow step by step: a run blowing up
        }
        assertEquals(new ClipDecision.LayerNorm(Map.of("0_dense", 1.0, "1_output", 10.0)),
                p.decide(step(50, 500), SPIKE), "three norms are too few for a percentile: the smallest is used");
        Signal diverging = new Signal(false, false, Double.NaN, null, true);
        assertEquals(new ClipDecision.LayerNorm(Map.of("0_dense", 0.5, "1_output", 5.0)),
                p.decide(step(1, 10), diverging), "a loss far above its window tightens at once");
        p.onSkippedStep(new Signal(true, false, Double.NaN, null, false));
        assertEquals("clip-tighten", p.lastChange().kind(), "so does a non-finite step");
        assertEquals(new ClipDecision.LayerNorm(Map.of("0_dense", 0.25, "1_output", 2.5)),
                p.decide(step(1, 10), SPIKE), "a spike within the cooldown does not");
    }

    @Test
    void tightensOnRepeatedTriggersAtMostOncePerCooldownDownToTheFloor() {
        AdaptiveClip p = small();
        for (double d : new double[] {4, 4, 4, 4}) {
            p.decide(step(d, d), Signal.QUIET);
        }
        p.decide(step(100, 100), SPIKE); // enable at 4
        p.decide(step(100, 100), SPIKE); // within cooldown: unchanged
        assertNull(p.lastChange());
        assertEquals(4.0, p.thresholds().get("0_dense"));
        p.decide(step(100, 100), SPIKE); // cooldown passed: 2
        assertEquals("clip-tighten", p.lastChange().kind());
        assertEquals(2.0, p.thresholds().get("0_dense"));
        p.decide(step(100, 100), SPIKE);
        p.decide(step(100, 100), SPIKE); // 1 = floor (0.25 * 4)
        assertEquals(1.0, p.thresholds().get("0_dense"));
        p.decide(step(100, 100), SPIKE);
        p.decide(step(100, 100), SPIKE); // stays at the floor
        assertEquals(1.0, p.thresholds().get("0_dense"));
    }

    @Test
    void relaxesAfterAHealthyStretchAndSwitchesOffAboveTheFirstThreshold() {
        AdaptiveClip p = small();
        for (double d : new double[] {4, 4, 4, 4}) {
            p.decide(step(d, d), Signal.QUIET);
        }
        p.decide(step(100, 100), SPIKE); // enable at 4
        p.decide(step(100, 100), SPIKE);
        p.decide(step(100, 100), SPIKE); // tighten to 2
        p.decide(step(3, 3), Signal.QUIET);
        p.decide(step(3, 3), Signal.QUIET);
        assertInstanceOf(ClipDecision.LayerNorm.class, p.decide(step(3, 3), Signal.QUIET)); // 3rd healthy: relax to 4
        assertEquals("clip-relax", p.lastChange().kind());
        assertEquals(4.0, p.thresholds().get("0_dense"));
        p.decide(step(3, 3), Signal.QUIET);
        p.decide(step(3, 3), Signal.QUIET);
        assertInstanceOf(ClipDecision.None.class, p.decide(step(3, 3), Signal.QUIET)); // 8 > 4: off
        assertEquals("clip-disable", p.lastChange().kind());
    }

    @Test
    void aNonFiniteStepArmsClippingFromHistory() {
        AdaptiveClip p = small();
        p.decide(step(2, 20), Signal.QUIET);
        p.onSkippedStep(new Signal(true, false, Double.NaN, null, false));
        assertEquals("clip-enable", p.lastChange().kind());
        assertEquals(Map.of("0_dense", 2.0, "1_output", 20.0), p.thresholds());
    }

    @Test
    void aTriggerOnTheFirstStepUsesATenthOfTheCurrentNorm() {
        AdaptiveClip p = small();
        assertEquals(new ClipDecision.LayerNorm(Map.of("0_dense", 5.0, "1_output", 0.5)),
                p.decide(step(50, 5), SPIKE));
    }

    @Test
    void validatesEverySettingByName() {
        assertThrows(IllegalArgumentException.class, () -> new AdaptiveClip(0, 4, 0.5, 0.25, 2, 3));
        assertEquals("tightenFactor must be in (0, 1), was 1.0",
                assertThrows(IllegalArgumentException.class, () -> new AdaptiveClip(50, 4, 1, 0.25, 2, 3))
                        .getMessage());
        assertThrows(IllegalArgumentException.class, () -> new AdaptiveClip(50, 0, 0.5, 0.25, 2, 3));
        assertThrows(IllegalArgumentException.class, () -> new AdaptiveClip(50, 4, 0.5, Double.NaN, 2, 3));
    }

    @Test
    void copyKeepsSettingsAndForgetsHistory() {
        AdaptiveClip p = small();
        p.decide(step(2, 2), Signal.QUIET);
        p.decide(step(100, 100), SPIKE);
        ClipPolicy copy = p.copy();
        assertEquals(p.settings(), copy.settings());
        assertInstanceOf(ClipDecision.None.class, copy.decide(step(2, 2), Signal.QUIET));
    }
}
