package dev.gradsentry.core.clip;

import dev.gradsentry.core.detect.Signal;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ZClipTest {

    private static final double EPS = 1e-12;
    private static final ClipDecision NONE = new ClipDecision.None();

    private static ClipDecision decide(ClipPolicy policy, long iteration, double norm) {
        return policy.decide(Steps.step(iteration, norm), Signal.QUIET);
    }

    private static double threshold(ClipDecision decision) {
        return assertInstanceOf(ClipDecision.GlobalNorm.class, decision).threshold();
    }

    @Test
    void decidesNoneForExactlyTheWarmupStepsEvenOnSpikes() {
        ZClip policy = new ZClip(0.97, 2.5, 5);
        double[] warmup = {1, 2, 1000, 2, 1};
        for (int i = 0; i < warmup.length; i++) {
            assertEquals(NONE, decide(policy, i, warmup[i]), "warm-up step " + i);
        }
        // mean 201.2; the next spike is far above it.
        assertInstanceOf(ClipDecision.GlobalNorm.class, decide(policy, 5, 1e6));
    }

    @Test
    void warmupInitialisesMeanAndPopulationVariance() {
        ZClip policy = new ZClip(0.97, 2.5, 5);
        for (double norm : new double[] {1, 2, 1, 2, 1}) {
            decide(policy, 0, norm);
        }
        double mean = (1 + 2 + 1 + 2 + 1) / 5.0;
        double var = (3 * (1 - mean) * (1 - mean) + 2 * (2 - mean) * (2 - mean)) / 5;
        assertEquals(1.4, mean, EPS);
        assertEquals(0.24, var, EPS);
        double std = Math.sqrt(var);
        double z = (100 - mean) / std;
        assertEquals(mean + 2.5 * 2.5 / z * std, threshold(decide(policy, 5, 100)), EPS);
    }

    @Test
    void clipsReciprocallyAndFeedsTheClippedNormIntoTheAverage() {
        double alpha = 0.9;
        double zt = 2;
        ZClip policy = new ZClip(alpha, zt, 3);
        for (double norm : new double[] {1, 2, 3}) {
            assertEquals(NONE, decide(policy, 0, norm));
        }
        double mean = 2;
        double var = 2.0 / 3;

        // 2.5 is within the threshold: not clipped, the EMA takes it as it is.
        double z = (2.5 - mean) / Math.sqrt(var);
        assertTrue(z < zt);
        assertEquals(NONE, decide(policy, 3, 2.5));
        mean = alpha * mean + (1 - alpha) * 2.5;
        var = alpha * var + (1 - alpha) * (2.5 - mean) * (2.5 - mean);
        assertEquals(2.05, mean, EPS);
        assertEquals(0.6 + 0.1 * 0.45 * 0.45, var, EPS);

        // 10 is a spike: clipped to mean + zt^2 / z * std, and the EMA takes the clipped value.
        double std = Math.sqrt(var);
        z = (10 - mean) / std;
        assertTrue(z > zt);
        double clipped = mean + zt * zt / z * std;
        assertEquals(clipped, threshold(decide(policy, 4, 10)), EPS);
        assertTrue(clipped < mean + zt * std, "reciprocal clipping is below the z threshold itself");
        mean = alpha * mean + (1 - alpha) * clipped;
        var = alpha * var + (1 - alpha) * (clipped - mean) * (clipped - mean);

        // 4 is a spike against the clipped statistics; had 10 entered the EMA unclipped (mean 2.845, std 2.38) it
        // would have passed.
        std = Math.sqrt(var);
        z = (4 - mean) / std;
        assertTrue(z > zt);
        double unclippedMean = alpha * 2.05 + (1 - alpha) * 10;
        double unclippedVar = alpha * 0.62025 + (1 - alpha) * (10 - unclippedMean) * (10 - unclippedMean);
        assertTrue((4 - unclippedMean) / Math.sqrt(unclippedVar) < zt);
        assertEquals(mean + zt * zt / z * std, threshold(decide(policy, 5, 4)), EPS);
    }

    @Test
    void aFlatWarmupHasZeroDeviationAndClipsNothingUntilTheVarianceGrows() {
        double alpha = 0.9;
        ZClip policy = new ZClip(alpha, 2.5, 3);
        for (int i = 0; i < 3; i++) {
            assertEquals(NONE, decide(policy, i, 2));
        }
        // std 0: z is taken as 0, so even a large norm passes, and enters the EMA unclipped.
        assertEquals(NONE, decide(policy, 3, 100));
        double mean = alpha * 2 + (1 - alpha) * 100;
        double var = (1 - alpha) * (100 - mean) * (100 - mean);
        double std = Math.sqrt(var);
        double z = (1000 - mean) / std;
        assertTrue(z > 2.5);
        assertEquals(mean + 2.5 * 2.5 / z * std, threshold(decide(policy, 4, 1000)), EPS);
    }

    @Test
    void copyForgetsTheHistoryButKeepsTheSettings() {
        ZClip policy = new ZClip(0.9, 2, 2);
        decide(policy, 0, 1);
        decide(policy, 1, 2);
        assertInstanceOf(ClipDecision.GlobalNorm.class, decide(policy, 2, 50));
        ClipPolicy copy = ClipPolicies.create(policy.name(), policy.settings());
        assertNotSame(policy, copy);
        assertInstanceOf(ZClip.class, copy);
        assertEquals(policy.settings(), copy.settings());
        // Warming up again.
        assertEquals(NONE, decide(copy, 0, 50));
        assertEquals(NONE, decide(copy, 1, 1));
    }

    @Test
    void nameAndSettingsInOrder() {
        ZClip policy = new ZClip(0.97, 2.5, 25);
        assertEquals("zclip", policy.name());
        assertEquals(List.of("alpha", "zThreshold", "warmup"), List.copyOf(policy.settings().keySet()));
        assertEquals(Map.of("alpha", 0.97, "zThreshold", 2.5, "warmup", 25.0), policy.settings());
        assertThrows(UnsupportedOperationException.class, () -> policy.settings().put("alpha", 0.5));
    }

    @ParameterizedTest
    @ValueSource(doubles = {Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, 0.0, 1.0, -0.5, 1.5})
    void rejectsAlphaOutsideZeroToOne(double bad) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new ZClip(bad, 2.5, 25));
        assertEquals("alpha must be a number in (0, 1), was " + bad, e.getMessage());
    }

    @ParameterizedTest
    @ValueSource(doubles = {Double.NaN, Double.POSITIVE_INFINITY, 0.0, -2.5})
    void rejectsZThresholdsThatAreNotFinitePositive(double bad) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new ZClip(0.97, bad, 25));
        assertEquals("zThreshold must be a finite number > 0, was " + bad, e.getMessage());
    }

    @Test
    void rejectsAWarmupBelowOne() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new ZClip(0.97, 2.5, 0));
        assertEquals("warmup must be a whole number >= 1, was 0", e.getMessage());
    }
}
