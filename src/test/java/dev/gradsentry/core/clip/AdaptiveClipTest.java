package dev.gradsentry.core.clip;

import dev.gradsentry.core.detect.Signal;
import dev.gradsentry.core.probe.LayerStats;
import dev.gradsentry.core.probe.ParamStats;
import dev.gradsentry.core.probe.StepStats;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static dev.gradsentry.core.InterventionKind.CLIP;
import static dev.gradsentry.core.InterventionKind.CLIP_DISABLE;
import static dev.gradsentry.core.InterventionKind.CLIP_ENABLE;
import static dev.gradsentry.core.InterventionKind.CLIP_RELAX;
import static dev.gradsentry.core.InterventionKind.CLIP_TIGHTEN;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class AdaptiveClipTest {

    /** The default update-ratio cap: each expected threshold is this share of a layer's weights over its gain. */
    private static final double CAP = AdaptiveClip.DEFAULT_UPDATE_RATIO_CAP;

    private static final Signal SPIKE = new Signal(false, true, 9, "global", false);

    private static StepStats step(double dense, double out) {
        return new StepStats(0, 0, 32, 1.0, 0.1, Math.hypot(dense, out), 1, 0, List.of(
                new LayerStats("0_dense", dense, 1, 0, Double.NaN, List.of(new ParamStats("W", dense, 0))),
                new LayerStats("1_output", out, 1, 0, Double.NaN, List.of(new ParamStats("W", out, 0)))));
    }

    /** percentile 50, window 4, tighten 0.5, floor 0.25, cooldown 2, relax after 3 */
    private static AdaptiveClip small() {
        return new AdaptiveClip(50, 4, 0.5, 0.25, 2, 3, 0.02, 0.1, 1, 100);
    }

    @Test
    void observesWhileHealthy() {
        AdaptiveClip p = small();
        for (int i = 0; i < 10; i++) {
            assertInstanceOf(ClipDecision.None.class, p.decide(step(1 + i, 10), Signal.QUIET));
            assertNull(p.lastChange());
        }
    }

    private static final Signal DIVERGING = new Signal(false, false, Double.NaN, null, true);

    /** A step whose layers carry their weight norms and their optimizer's step gain (SGD: the learning rate). */
    private static StepStats weighted(double denseNorm, double denseWeights, double outNorm, double outWeights,
                                      double gain) {
        return new StepStats(0, 0, 32, 1.0, gain, Math.hypot(denseNorm, outNorm), 1, 0, List.of(
                new LayerStats("0_dense", denseNorm, 1, 0, Double.NaN, List.of(new ParamStats("W", denseNorm, 0)),
                        denseWeights, gain, gain),
                new LayerStats("1_output", outNorm, 1, 0, Double.NaN, List.of(new ParamStats("W", outNorm, 0)),
                        outWeights, gain, gain)));
    }

    @Test
    void aLoneSpikeIsClippedAtThePercentileOfEachLayersHealthyWindowOnThatStepOnly() {
        AdaptiveClip p = small();
        double[] dense = {1, 2, 3, 4, 5};
        for (double d : dense) {
            p.decide(step(d, 100 * d), Signal.QUIET);
        }
        // window 4 keeps 2,3,4,5: the median is 3.5 for the dense layer and 350 for the output layer
        ClipDecision d = p.decide(step(1000, 1e5), SPIKE);
        assertEquals(new ClipDecision.LayerNorm(Map.of("0_dense", 3.5, "1_output", 350.0)), d);
        assertEquals(CLIP, p.lastChange().kind());
        assertEquals("spike", p.lastChange().reason());
        assertEquals(Math.hypot(3.5, 350), p.lastChange().after(), 1e-9, "for all layers: the global bound");
        assertTrue(p.lastChange().detail().contains("0_dense=3.50"), p.lastChange().detail());
        assertInstanceOf(ClipDecision.None.class, p.decide(step(3, 300), Signal.QUIET), "no state was switched on");
        assertTrue(p.thresholds().isEmpty());
    }

    @Test
    void aLostStepEnablesAtThePercentileOfEachLayersHealthyWindow() {
        AdaptiveClip p = small();
        for (double d : new double[] {1, 2, 3, 4, 5}) {
            p.decide(step(d, 100 * d), Signal.QUIET);
        }
        ClipDecision d = p.decide(step(1000, 1e5), DIVERGING);
        assertEquals(new ClipDecision.LayerNorm(Map.of("0_dense", 3.5, "1_output", 350.0)), d);
        assertEquals(CLIP_ENABLE, p.lastChange().kind());
        assertEquals(Map.of("0_dense", 3.5, "1_output", 350.0), p.thresholds());
    }

    /**
     * A burst of bad minibatches keeps the loss far above its window for a few steps; every step of it used to
     * tighten at once, past the cooldown, so one burst on a healthy MLP left its thresholds at 1/32 of their
     * healthy scale. The streak tells the policy once; a new streak, or a rollback, tells it again.
     */
    @Test
    void aLossStreakAboveItsWindowTightensOnceNotOnEveryStep() {
        AdaptiveClip p = new AdaptiveClip(50, 4, 0.5, 0.01, 2, 3, 0.02, 0.1, 1, 100); // small(), floor 1%
        for (double d : new double[] {1, 2, 3, 4, 5}) {
            p.decide(step(d, 100 * d), Signal.QUIET);
        }
        p.decide(step(6, 600), DIVERGING);
        assertEquals(CLIP_ENABLE, p.lastChange().kind());
        for (int i = 0; i < 3; i++) {
            p.decide(step(6, 600), DIVERGING);
            assertNull(p.lastChange(), "the same streak, step " + (i + 2));
        }
        assertEquals(Map.of("0_dense", 3.5, "1_output", 350.0), p.thresholds());
        p.decide(step(3, 300), Signal.QUIET);
        p.decide(step(6, 600), DIVERGING);
        assertEquals(CLIP_TIGHTEN, p.lastChange().kind(), "a new streak");
        p.onSkippedStep(DIVERGING); // the guard rolls back at the end of the streak: that tightens too
        assertEquals(CLIP_TIGHTEN, p.lastChange().kind());
        p.decide(step(6, 600), DIVERGING);
        assertEquals(CLIP_TIGHTEN, p.lastChange().kind(), "after a rollback the next streak is a new one");
        assertEquals(Map.of("0_dense", 3.5 / 8, "1_output", 350.0 / 8), p.thresholds());
    }

    /**
     * A checkpoint written in the middle of a loss streak: the run resumed from it is in the same streak, which has
     * already told the policy. Before the sixth session of 2 December the policy did not save that it had been told,
     * so the resumed run tightened once more than the uninterrupted one.
     */
    @Test
    void aRunResumedInTheMiddleOfALossStreakDoesNotTightenAgain() {
        AdaptiveClip p = new AdaptiveClip(50, 4, 0.5, 0.01, 2, 3, 0.02, 0.1, 1, 100);
        for (double d : new double[] {1, 2, 3, 4, 5}) {
            p.decide(step(d, 100 * d), Signal.QUIET);
        }
        p.decide(step(3, 300), DIVERGING);
        p.decide(step(3, 300), Signal.QUIET);
        p.decide(step(6, 600), DIVERGING);
        assertEquals(CLIP_TIGHTEN, p.lastChange().kind(), "the streak's first step");
        AdaptiveClip resumed = new AdaptiveClip(50, 4, 0.5, 0.01, 2, 3, 0.02, 0.1, 1, 100);
        resumed.restoreState(p.saveState());
        resumed.decide(step(6, 600), DIVERGING);
        assertNull(resumed.lastChange(), "the same streak, after the resume");
        assertEquals(Map.of("0_dense", 3.5 / 2, "1_output", 350.0 / 2), resumed.thresholds());
        resumed.decide(step(3, 300), Signal.QUIET);
        resumed.decide(step(6, 600), DIVERGING);
        assertEquals(CLIP_TIGHTEN, resumed.lastChange().kind(), "a new streak");
    }

    /**
     * Under weight decay the cap lets each layer move by at least twice the share of its weights decay takes away per
     * step; a layer without decay keeps the cap as it is, and so does one whose decay is small.
     */
    @Test
    void theCapOfALayerUnderHeavyWeightDecayIsAtLeastTwiceTheShareDecayTakes() {
        AdaptiveClip p = AdaptiveClip.defaults();
        double gain = 5;
        StepStats step = new StepStats(0, 0, 32, 1.0, gain, 100, 1, 0, List.of(
                new LayerStats("0_dense", 100, 1, 0, Double.NaN, List.of(new ParamStats("W", 100, 0)), 10, gain,
                        gain, 100, 0.05),
                new LayerStats("1_dense", 1, 1, 0, Double.NaN, List.of(new ParamStats("W", 1, 0)), 10, gain, gain,
                        1, 0.005),
                new LayerStats("2_output", 1, 1, 0, Double.NaN, List.of(new ParamStats("W", 1, 0)), 10, gain, gain)));
        ClipDecision.LayerNorm d = (ClipDecision.LayerNorm) p.decide(step, Signal.QUIET);
        assertEquals("update-ratio", p.lastChange().reason(), "the first layer's step is 50x its weights");
        assertEquals(2 * 0.05 * 10 / gain, d.thresholds().get("0_dense"), 1e-12, "10% of its weights, not 2%");
        assertEquals(0.02 * 10 / gain, d.thresholds().get("1_dense"), 1e-12, "1% decay: the cap as it is");
        assertEquals(0.02 * 10 / gain, d.thresholds().get("2_output"), 1e-12);
    }

    @Test
    void aShortHistoryEnablesAtItsSmallestNormAndLostStepsTightenDespiteTheCooldown() {
        AdaptiveClip p = AdaptiveClip.defaults();
        for (double d : new double[] {1, 3, 9}) {
            p.decide(step(d, 10 * d), Signal.QUIET); // norms that grow step by step: a run blowing up
        }
        assertEquals(new ClipDecision.LayerNorm(Map.of("0_dense", 1.0, "1_output", 10.0)),
                p.decide(step(50, 500), DIVERGING), "three norms are too few for a percentile: the smallest is used");
        p.onSkippedStep(new Signal(true, false, Double.NaN, null, false));
        assertEquals(CLIP_TIGHTEN, p.lastChange().kind(), "a non-finite step right after tightens at once");
        assertEquals(Map.of("0_dense", 0.5, "1_output", 5.0), p.thresholds());
        assertEquals(new ClipDecision.LayerNorm(Map.of("0_dense", 0.5, "1_output", 5.0)),
                p.decide(step(1, 10), SPIKE), "a spike within the cooldown does not");
    }

    @Test
    void threeSpikesCloseTogetherSwitchClippingOnAndFurtherOnesTightenAtMostOncePerCooldownDownToTheFloor() {
        AdaptiveClip p = small();
        for (double d : new double[] {4, 4, 4, 4}) {
            p.decide(step(d, d), Signal.QUIET);
        }
        p.decide(step(100, 100), SPIKE);
        p.decide(step(100, 100), SPIKE);
        assertTrue(p.thresholds().isEmpty(), "two spikes are clipped one by one");
        p.decide(step(100, 100), SPIKE); // the third within 50 steps: enable at 4
        assertEquals(CLIP_ENABLE, p.lastChange().kind());
        assertEquals("repeated-spikes", p.lastChange().reason());
        assertEquals(4.0, p.thresholds().get("0_dense"));
        p.decide(step(100, 100), SPIKE); // within cooldown: unchanged
        assertNull(p.lastChange());
        assertEquals(4.0, p.thresholds().get("0_dense"));
        p.decide(step(100, 100), SPIKE); // cooldown passed: 2
        assertEquals(CLIP_TIGHTEN, p.lastChange().kind());
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
        p.decide(step(4, 4), DIVERGING); // enable at 4
        p.decide(step(100, 100), SPIKE);
        p.decide(step(100, 100), SPIKE);
        p.decide(step(100, 100), SPIKE); // repeated spikes after the cooldown: tighten to 2
        assertEquals(2.0, p.thresholds().get("0_dense"));
        p.decide(step(3, 3), Signal.QUIET);
        p.decide(step(3, 3), Signal.QUIET);
        assertInstanceOf(ClipDecision.LayerNorm.class, p.decide(step(3, 3), Signal.QUIET)); // 3rd healthy: relax to 4
        assertEquals(CLIP_RELAX, p.lastChange().kind());
        assertEquals(4.0, p.thresholds().get("0_dense"));
        p.decide(step(3, 3), Signal.QUIET);
        p.decide(step(3, 3), Signal.QUIET);
        assertFalse(p.capEngaged(), "the cap, back at full size and idle for a healthy stretch, let go");
        assertInstanceOf(ClipDecision.None.class, p.decide(step(3, 3), Signal.QUIET)); // 8 > 4: off
        assertTrue(p.thresholds().isEmpty());
        assertEquals(CLIP_DISABLE, p.lastChange().kind());
    }

    @Test
    void theUpdateRatioCapActsFromTheFirstStepWithoutHistoryAndBoundsEachLayersUpdate() {
        AdaptiveClip p = AdaptiveClip.defaults();
        // SGD at lr 10 on fresh weights: the dense layer would move 100x its own norm in one step
        ClipDecision d = p.decide(weighted(100, 10, 1, 5, 10), Signal.QUIET);
        // a gradient of norm CAP * 10 / 10 moves the dense weights by CAP of their norm
        assertEquals(new ClipDecision.LayerNorm(Map.of("0_dense", CAP * 10 / 10, "1_output", CAP * 5 / 10)), d);
        assertEquals(CLIP_ENABLE, p.lastChange().kind());
        assertEquals("update-ratio", p.lastChange().reason());
        assertTrue(p.capEngaged());
        // engaged, it keeps bounding every step by the weights of that step
        assertEquals(new ClipDecision.LayerNorm(Map.of("0_dense", CAP * 20 / 10, "1_output", CAP * 5 / 10)),
                p.decide(weighted(1, 20, 0.001, 5, 10), Signal.QUIET));
    }

    @Test
    void healthyUpdateRatiosNeverEngageTheCap() {
        AdaptiveClip p = AdaptiveClip.defaults();
        for (int i = 0; i < 1000; i++) {
            // ratio 0.05 and 0.08: the largest a healthy SGD run showed is about 0.05
            assertInstanceOf(ClipDecision.None.class, p.decide(weighted(0.5, 1, 0.8, 1, 0.1), Signal.QUIET));
            assertNull(p.lastChange());
        }
        assertFalse(p.capEngaged());
    }

    /** A step of one layer whose update would be {@code firstStep} of its weights now, {@code sustained} once
     * momentum has built up (Nesterov mu = 0.9: (1 + mu) lr against lr / (1 - mu)). */
    private static StepStats momentum(double firstStep, double sustained) {
        return new StepStats(0, 0, 32, 1.0, 0.01, 1, 1, 0, List.of(new LayerStats("0_dense", 1, 1, 0, Double.NaN,
                List.of(new ParamStats("W", 1, 0)), 1, sustained, firstStep)));
    }

    @Test
    void theTriggerJudgesTheStepItselfWhileTheCapBoundsWhatMomentumBuildsUpTo() {
        AdaptiveClip p = AdaptiveClip.defaults();
        // a healthy Nesterov run: this step moves the weights 1.9%, momentum could build it up to 10%: no trigger
        for (int i = 0; i < 100; i++) {
            assertInstanceOf(ClipDecision.None.class, p.decide(momentum(0.019, 0.1 * 1.2), Signal.QUIET));
        }
        assertFalse(p.capEngaged());
        // this step alone would move them 19%: engaged, and bounded by the sustained gain
        ClipDecision d = p.decide(momentum(0.19, 1.0), Signal.QUIET);
        assertTrue(p.capEngaged());
        assertEquals(new ClipDecision.LayerNorm(Map.of("0_dense", CAP)), d);
    }

    /**
     * A first step of 5% that momentum builds up to 27% (recall tanh Nesterov, seed 42: the run then sat at half the
     * accuracy) engages the cap; a healthy Nesterov run's built-up 12% does not (the test above).
     */
    @Test
    void aStepMomentumWouldBuildUpToTwiceTheTriggerEngagesTheCapAlthoughTheStepAloneDoesNot() {
        AdaptiveClip p = AdaptiveClip.defaults();
        assertInstanceOf(ClipDecision.None.class, p.decide(momentum(0.05, 0.19), Signal.QUIET));
        assertFalse(p.capEngaged(), "built up to 19%: under twice the trigger");
        ClipDecision d = p.decide(momentum(0.05, 0.27), Signal.QUIET);
        assertTrue(p.capEngaged());
        assertTrue(p.lastChange().detail().contains("predicted update/parameter ratio 0.0500 for this step, 0.270 once "
                + "momentum builds it up (counted at 1/2), above the trigger 0.100"), p.lastChange().detail());
        assertEquals(new ClipDecision.LayerNorm(Map.of("0_dense", CAP / 0.27)), d);
    }

    @Test
    void optimizersThatNormaliseTheGradientAreCappedRelativeToTheirWeightsOnceAGradientDwarfsThem() {
        AdaptiveClip p = AdaptiveClip.defaults();
        // Adam (no step gain): a gradient 9x its weights, the most a healthy Adam run showed, engages nothing
        for (int i = 0; i < 100; i++) {
            assertInstanceOf(ClipDecision.None.class, p.decide(weighted(9, 1, 0.5, 2, Double.NaN), Signal.QUIET));
        }
        assertFalse(p.capEngaged());
        // a first gradient 1000x the weights (a recurrent net at a large initial gain) engages the gradient cap
        ClipDecision d = p.decide(weighted(1000, 1, 0.5, 2, Double.NaN), Signal.QUIET);
        assertTrue(p.gradientCapEngaged());
        assertFalse(p.capEngaged(), "the update-ratio cap is another rule's");
        assertEquals("gradient-ratio", p.lastChange().reason());
        assertTrue(p.lastChange().detail().contains("layer 0_dense: gradient/parameter norm ratio 1.00e+03"),
                p.lastChange().detail());
        // each layer's gradient is bounded by 0.03 times its own weights from then on
        assertEquals(new ClipDecision.LayerNorm(Map.of("0_dense", 0.03, "1_output", 0.06)), d);
        assertTrue(d.binds(weighted(1000, 1, 0.5, 2, Double.NaN)));
    }

    @Test
    void aLostStepOnANormalisingOptimizerLeavesTheGradientCapToItsTriggerAndTighteningLeavesItAlone() {
        AdaptiveClip p = AdaptiveClip.defaults();
        StepStats healthy = weighted(10, 1, 10, 2, Double.NaN); // Adam: gradients 10x and 5x the weights
        for (int i = 0; i < 30; i++) {
            p.decide(healthy, Signal.QUIET);
        }
        // a diverging loss: history thresholds switch on (each layer's healthy 10), the gradient cap does not
        assertEquals(new ClipDecision.LayerNorm(Map.of("0_dense", 10.0, "1_output", 10.0)),
                p.decide(healthy, DIVERGING));
        assertFalse(p.gradientCapEngaged());
        // its own trigger engages it: 0.03 times each layer's weights
        assertEquals(new ClipDecision.LayerNorm(Map.of("0_dense", 0.03, "1_output", 0.06)),
                p.decide(weighted(1000, 1, 10, 2, Double.NaN), Signal.QUIET));
        assertEquals("gradient-ratio", p.lastChange().reason());
        // lost steps tighten the history thresholds (10 -> 0.3125) and the update-ratio cap, not the gradient cap
        for (int i = 0; i < 5; i++) {
            p.onSkippedStep(new Signal(true, false, Double.NaN, null, false));
        }
        assertEquals(Map.of("0_dense", 0.3125, "1_output", 0.3125), p.thresholds());
        assertEquals(new ClipDecision.LayerNorm(Map.of("0_dense", 0.03, "1_output", 0.06)),
                p.decide(weighted(1000, 1, 10, 2, Double.NaN), Signal.QUIET));
    }

    /** An SGD layer (weights 10, lr 10) beside an Adam layer (weights 2). */
    private static StepStats sgdBesideAdam(double sgdNorm, double adamNorm) {
        return new StepStats(0, 0, 32, 1.0, 10, Math.hypot(sgdNorm, adamNorm), 1, 0, List.of(
                new LayerStats("0_dense", sgdNorm, 1, 0, Double.NaN, List.of(new ParamStats("W", sgdNorm, 0)), 10, 10,
                        10),
                new LayerStats("1_output", adamNorm, 1, 0, Double.NaN, List.of(new ParamStats("W", adamNorm, 0)), 2,
                        Double.NaN, Double.NaN)));
    }

    /**
     * SGD (lr 10) on two layers of weights 1 that DL4J normalizes after the guard: the dense layer clipped by DL4J to
     * a norm of {@code denseApplied} ({@code ClipL2PerLayer}), the output layer renormalized to unit norm (its
     * applied norm NaN: see {@code LayerStats.appliedNorm}).
     */
    private static StepStats normalizedByDl4j(double norm, double denseApplied, double outApplied) {
        return new StepStats(0, 0, 32, 1.0, 10, Math.hypot(norm, norm), 1, 0, List.of(
                new LayerStats("0_dense", norm, 1, 0, Double.NaN, List.of(new ParamStats("W", norm, 0)), 1, 10, 10,
                        denseApplied),
                new LayerStats("1_output", norm, 1, 0, Double.NaN, List.of(new ParamStats("W", norm, 0)), 1, 10, 10,
                        outApplied)));
    }

    @Test
    void theCapJudgesTheGradientDl4jAppliesAndNeverClipsARenormalizedLayer() {
        AdaptiveClip p = AdaptiveClip.defaults();
        // raw: 10 * 5 / 1 = 50x the weights; applied: DL4J's clip leaves 10 * 0.005 = 5%, below the trigger
        for (int i = 0; i < 30; i++) {
            assertInstanceOf(ClipDecision.None.class, p.decide(normalizedByDl4j(5, 0.005, Double.NaN), Signal.QUIET));
            assertNull(p.lastChange());
        }
        // DL4J's clip at 0.05 lets through 50%: the cap engages on the dense layer alone, at CAP * 1 / 10
        ClipDecision d = p.decide(normalizedByDl4j(5, 0.05, Double.NaN), Signal.QUIET);
        assertEquals(new ClipDecision.LayerNorm(Map.of("0_dense", CAP / 10)), d);
        assertEquals("update-ratio", p.lastChange().reason());
        assertTrue(d.binds(normalizedByDl4j(5, 0.05, Double.NaN)));
        assertFalse(d.binds(normalizedByDl4j(5, CAP / 10, Double.NaN)), "what DL4J applies is already at the cap");
        assertFalse(d.bindsLayer(normalizedByDl4j(5, 0.05, Double.NaN),
                normalizedByDl4j(5, 0.05, Double.NaN).layers().get(1)));
    }

    @Test
    void aNetworkDl4jRenormalizesThroughoutHasNothingToClipAndRecordsNoClip() {
        AdaptiveClip p = AdaptiveClip.defaults();
        for (int i = 0; i < 30; i++) {
            p.decide(normalizedByDl4j(0.01, Double.NaN, Double.NaN), Signal.QUIET);
        }
        assertInstanceOf(ClipDecision.None.class, p.decide(normalizedByDl4j(1e4, Double.NaN, Double.NaN), DIVERGING));
        p.onSkippedStep(new Signal(true, false, Double.NaN, null, false));
        assertNull(p.lastChange(), "a lost step finds no layer to clip");
        assertInstanceOf(ClipDecision.None.class, p.decide(normalizedByDl4j(1e4, Double.NaN, Double.NaN), SPIKE));
        assertNull(p.lastChange());
        assertTrue(p.thresholds().isEmpty());
    }

    @Test
    void bothCapsEngagedOnOneStepEachBoundTheirOwnLayers() {
        AdaptiveClip p = AdaptiveClip.defaults();
        for (int i = 0; i < 30; i++) {
            p.decide(sgdBesideAdam(0.05, 1), Signal.QUIET); // update ratio 0.05, gradient ratio 0.5: healthy
        }
        // the Adam layer's gradient trigger and a diverging loss on the same step: the gradient cap, then the
        // update cap and the history thresholds (0.05 and 1); the SGD layer's cap CAP * 10 / 10 is the tighter
        assertEquals(new ClipDecision.LayerNorm(Map.of("0_dense", CAP * 10 / 10, "1_output", 0.06)),
                p.decide(sgdBesideAdam(0.05, 1000), DIVERGING));
        assertTrue(p.capEngaged());
        assertTrue(p.gradientCapEngaged());
    }

    @Test
    void aMixOfOptimizersCapsEachLayerByItsOwnRule() {
        AdaptiveClip p = AdaptiveClip.defaults();
        StepStats mixed = new StepStats(0, 0, 32, 1.0, 0.1, 100, 1, 0, List.of(
                new LayerStats("0_dense", 100, 1, 0, Double.NaN, List.of(new ParamStats("W", 100, 0)), 10, 1, 1),
                new LayerStats("1_output", 1, 1, 0, Double.NaN, List.of(new ParamStats("W", 1, 0)), 2, Double.NaN,
                        Double.NaN)));
        // SGD layer: update 100 * 1 / 10 = 10x its weights: its cap engages, CAP * 10 / 1; the Adam layer, its
        // gradient half its weights, is far below its own trigger and left alone
        assertEquals(new ClipDecision.LayerNorm(Map.of("0_dense", CAP * 10 / 1)), p.decide(mixed, Signal.QUIET));
        assertEquals("update-ratio", p.lastChange().reason());
        assertFalse(p.gradientCapEngaged());
    }

    @Test
    void aZeroInitialisedLayerDoesNotEngageTheCapOnAHealthyRun() {
        AdaptiveClip p = AdaptiveClip.defaults();
        // SGD lr 0.1: the dense layer moves 0.5% per step, the zero-initialised output layer borrows a tenth of the
        // median weight norm (10 -> 1) and moves 5%: below the trigger, although its own weights are zero
        for (int i = 0; i < 100; i++) {
            assertInstanceOf(ClipDecision.None.class, p.decide(weighted(0.5, 10, 0.5, 0, 0.1), Signal.QUIET));
        }
        assertFalse(p.capEngaged());
    }

    @Test
    void aZeroInitialisedLayerBorrowsAScaleFromTheOthersSoThatItCanStillLearn() {
        AdaptiveClip p = AdaptiveClip.defaults();
        ClipDecision d = p.decide(weighted(100, 10, 100, 0, 1), Signal.QUIET);
        // median weight norm of the two layers is 10: the zero layer is bounded as if its weights had norm 1
        assertEquals(new ClipDecision.LayerNorm(Map.of("0_dense", CAP * 10 / 1, "1_output", CAP * 1 / 1)), d);
    }

    @Test
    void lostStepsTightenTheCapDownToTheFloor() {
        AdaptiveClip p = AdaptiveClip.defaults();
        p.decide(weighted(100, 10, 1, 5, 10), Signal.QUIET); // engaged: CAP for the dense layer
        p.onSkippedStep(new Signal(true, false, Double.NaN, null, false)); // history thresholds switched on
        p.onSkippedStep(new Signal(true, false, Double.NaN, null, false));
        assertEquals(CLIP_TIGHTEN, p.lastChange().kind());
        assertEquals(CAP / 2, ((ClipDecision.LayerNorm) p.decide(weighted(100, 10, 1, 5, 10), Signal.QUIET))
                .thresholds().get("0_dense"), 1e-12, "half the cap");
        for (int i = 0; i < 20; i++) {
            p.onSkippedStep(new Signal(true, false, Double.NaN, null, false));
        }
        assertEquals(CAP * AdaptiveClip.DEFAULT_FLOOR_FRACTION, ((ClipDecision.LayerNorm) p.decide(
                weighted(100, 10, 1, 5, 10), Signal.QUIET)).thresholds().get("0_dense"), 1e-12);
    }

    /** percentile 90, window 200, tighten 0.5, floor 0.01, cooldown 10, relax after 10, cap 0.01, trigger 0.1 */
    private static AdaptiveClip relaxingAfterTen() {
        return new AdaptiveClip(90, 200, 0.5, 0.01, 10, 10, 0.01, 0.1, 0.03, 100);
    }

    /** Decides {@code n} steps of an SGD run (lr 10) whose dense layer has gradient norm {@code denseNorm}. */
    private static void cappedSteps(AdaptiveClip p, int n, double denseNorm) {
        for (int i = 0; i < n; i++) {
            p.decide(weighted(denseNorm, 10, 0.001, 5, 10), Signal.QUIET);
        }
    }

    private static double denseCap(AdaptiveClip p) {
        return ((ClipDecision.LayerNorm) p.decide(weighted(1, 10, 0.001, 5, 10), Signal.QUIET)).thresholds()
                .get("0_dense");
    }

    @Test
    void aCapThatBindsOnNearlyEveryStepOfAHealthyStretchAnnealsAndRelaxesOnceItStopsBinding() {
        AdaptiveClip p = relaxingAfterTen();
        p.decide(weighted(100, 10, 1, 5, 10), Signal.QUIET); // engaged: dense threshold 0.01
        cappedSteps(p, 8, 1); // bound on 9 steps
        assertNull(p.lastChange());
        cappedSteps(p, 1, 1); // the 10th healthy step ends the stretch
        assertEquals(CLIP_TIGHTEN, p.lastChange().kind());
        assertEquals("cap-set-steps", p.lastChange().reason());
        assertTrue(p.lastChange().detail().startsWith("update-ratio cap 0.00500: the update-ratio cap bound on 9 of "
                + "the last 10 steps;"), p.lastChange().detail());
        assertEquals(0.005, denseCap(p), 1e-12, "half the cap, as a decaying learning rate would take");
        // a stretch on which the cap no longer binds gives the step back (that decision was its first step)
        cappedSteps(p, 9, 0.001);
        assertEquals(CLIP_RELAX, p.lastChange().kind());
        assertEquals(0.01, denseCap(p), 1e-12);
    }

    /**
     * Momentum averages the clipped gradients, each of the cap's norm, so the steps it lands stay set by the cap
     * whatever fraction of it they reach: until the sixth session of 2 December a cap whose steps landed below half
     * of it was never annealed, and the plain RNN of the tuning row "adding T=10 Nesterov" ended at twice the error
     * of a fixed clip.
     */
    @Test
    void aCapThatBindsOnNearlyEveryStepOfAMomentumRunIsAnnealedToo() {
        AdaptiveClip p = relaxingAfterTen();
        p.decide(nesterov(100), Signal.QUIET); // engaged: the built-up step 0.01 of the weights at gradient norm 0.01
        for (int i = 0; i < 9; i++) {
            p.decide(nesterov(1), Signal.QUIET); // bound on every step
        }
        assertEquals("cap-set-steps", p.lastChange().reason());
        assertEquals(0.005, nesterovCap(p), 1e-12);
    }

    /** A step of a Nesterov run (lr 1, momentum 0.9: step gain 10, first-step gain 1.9) with one dense layer. */
    private static StepStats nesterov(double denseNorm) {
        return new StepStats(0, 0, 32, 1.0, 1.0, denseNorm, denseNorm, 0, List.of(new LayerStats("0_dense",
                denseNorm, denseNorm, 0, Double.NaN, List.of(new ParamStats("W", denseNorm, 0)), 10, 10, 1.9)));
    }

    private static double nesterovCap(AdaptiveClip p) {
        return ((ClipDecision.LayerNorm) p.decide(nesterov(1e-6), Signal.QUIET)).thresholds().get("0_dense");
    }

    @Test
    void aSpikeStartsTheStretchAgainAndACheckpointKeepsItsCount() {
        AdaptiveClip p = relaxingAfterTen();
        p.decide(weighted(100, 10, 1, 5, 10), Signal.QUIET);
        cappedSteps(p, 5, 1);
        p.decide(weighted(1, 10, 0.001, 5, 10), SPIKE);
        cappedSteps(p, 5, 1);
        AdaptiveClip restored = relaxingAfterTen();
        restored.restoreState(p.saveState());
        cappedSteps(restored, 3, 1);
        assertEquals(0.01, denseCap(restored), 1e-12, "9 healthy steps since the spike: not yet a stretch");
        cappedSteps(restored, 1, 1);
        assertEquals("cap-set-steps", restored.lastChange().reason());
    }

    @Test
    void aNonFiniteStepArmsClippingFromHistory() {
        AdaptiveClip p = small();
        p.decide(step(2, 20), Signal.QUIET);
        p.onSkippedStep(new Signal(true, false, Double.NaN, null, false));
        assertEquals(CLIP_ENABLE, p.lastChange().kind());
        assertEquals(Map.of("0_dense", 2.0, "1_output", 20.0), p.thresholds());
    }

    @Test
    void aLostStepOnTheFirstStepUsesATenthOfTheCurrentNorm() {
        AdaptiveClip p = small();
        assertEquals(new ClipDecision.LayerNorm(Map.of("0_dense", 5.0, "1_output", 0.5)),
                p.decide(step(50, 5), DIVERGING));
    }

    @Test
    void validatesEverySettingByName() {
        assertThrows(IllegalArgumentException.class, () -> new AdaptiveClip(0, 4, 0.5, 0.25, 2, 3, 0.02, 0.1, 1, 100));
        assertEquals("tightenFactor must be in (0, 1), was 1.0",
                assertThrows(IllegalArgumentException.class, () -> new AdaptiveClip(50, 4, 1, 0.25, 2, 3, 0.02, 0.1, 1, 100))
                        .getMessage());
        assertThrows(IllegalArgumentException.class, () -> new AdaptiveClip(50, 0, 0.5, 0.25, 2, 3, 0.02, 0.1, 1, 100));
        assertThrows(IllegalArgumentException.class, () -> new AdaptiveClip(50, 4, 0.5, Double.NaN, 2, 3, 0.02, 0.1, 1, 100));
    }

    @Test
    void copyKeepsSettingsAndForgetsHistory() {
        AdaptiveClip p = small();
        p.decide(step(2, 2), Signal.QUIET);
        p.decide(step(100, 100), SPIKE);
        ClipPolicy copy = ClipPolicies.create(p.name(), p.settings());
        assertEquals(p.settings(), copy.settings());
        assertInstanceOf(ClipDecision.None.class, copy.decide(step(2, 2), Signal.QUIET));
    }
}
