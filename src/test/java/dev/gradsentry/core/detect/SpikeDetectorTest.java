package dev.gradsentry.core.detect;

import dev.gradsentry.core.probe.LayerStats;
import dev.gradsentry.core.probe.ParamStats;
import dev.gradsentry.core.probe.StepStats;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SpikeDetectorTest {

    private static StepStats step(double dense, double out) {
        return new StepStats(0, 0, 32, 1, 0.1, Math.hypot(dense, out), 1, 0, List.of(
                new LayerStats("0_dense", dense, 1, 0, Double.NaN, List.of(new ParamStats("W", dense, 0))),
                new LayerStats("1_output", out, 1, 0, Double.NaN, List.of(new ParamStats("W", out, 0)))));
    }

    /** Norms that wander by about 10% around 1 and 0.01, as in healthy training. */
    private static SpikeDetector warmedUp(Random r) {
        SpikeDetector d = new SpikeDetector(4.0, 20);
        for (int i = 0; i < 200; i++) {
            assertFalse(d.observe(step(1 + 0.1 * r.nextGaussian(), 0.01 * (1 + 0.1 * r.nextGaussian()))).spike());
        }
        return d;
    }

    @Test
    void healthyNoiseIsNoSpike() {
        Random r = new Random(1);
        SpikeDetector d = warmedUp(r);
        for (int i = 0; i < 1000; i++) {
            assertFalse(d.observe(step(1 + 0.1 * r.nextGaussian(), 0.01 * (1 + 0.1 * r.nextGaussian()))).spike(),
                    "step " + i);
        }
    }

    @Test
    void aJumpOfTheGlobalNormIsASpikeWithItsZScore() {
        SpikeDetector d = warmedUp(new Random(2));
        SpikeDetector.Result r = d.observe(step(5, 0.01));
        assertTrue(r.spike());
        assertTrue(r.score() > 4, "z " + r.score());
        assertEquals(5, r.ratio(), 0.8);
    }

    @Test
    void aSmallLayerSpikesEvenWhenTheGlobalNormHardlyMoves() {
        SpikeDetector d = warmedUp(new Random(3));
        SpikeDetector.Result r = d.observe(step(1, 0.2));
        assertTrue(r.spike());
        assertEquals("1_output", r.where());
    }

    @Test
    void loneSpikesDoNotTeachTheDetectorThatSpikesAreNormal() {
        SpikeDetector d = warmedUp(new Random(4));
        for (int i = 0; i < 50; i++) {
            assertTrue(d.observe(step(20, 0.01)).spike(), "step " + i);
            assertFalse(d.observe(step(1, 0.01)).spike(), "step " + i);
        }
    }

    /** The freeze that made the guard skip every step: a new level must not stay a "spike" for ever. */
    @Test
    void aLevelHeldForSeveralStepsInARowBecomesTheNewScale() {
        SpikeDetector d = warmedUp(new Random(5));
        int spikes = 0;
        for (int i = 0; i < 100; i++) {
            spikes += d.observe(step(20, 0.2)).spike() ? 1 : 0;
        }
        assertTrue(spikes < 30, spikes + " of 100 steps at the new level were still spikes");
        assertFalse(d.observe(step(20, 0.2)).spike());
    }

    @Test
    void duringWarmUpAHundredTimesTheMedianSoFarIsASpike() {
        SpikeDetector d = new SpikeDetector(4.0, 20);
        assertFalse(d.observe(step(2, 0.02)).spike(), "the first step has nothing to compare with");
        assertFalse(d.observe(step(3, 0.03)).spike());
        assertFalse(d.observe(step(200, 0.2)).spike(), "80x the median is not yet a spike: healthy runs grow so");
        assertTrue(d.observe(step(400, 0.03)).spike(), "133x is");
    }

    @Test
    void aSteadyRunDoesNotFlagASmallWobble() {
        SpikeDetector d = new SpikeDetector(4.0, 20);
        for (int i = 0; i < 100; i++) {
            d.observe(step(1 + 1e-6 * (i % 3), 0.01));
        }
        assertFalse(d.observe(step(1.5, 0.01)).spike(), "many sigmas, but under the 2x minimum ratio");
        assertTrue(d.observe(step(2.5, 0.01)).spike());
    }
}
