package dev.gradsentry.core.clip;

import dev.gradsentry.core.detect.Signal;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

class AutoClipTest {

    private static final double EPS = 1e-12;

    /** The thresholds the policy decides for {@code norms}, one per step; NaN where it decides None. */
    private static double[] thresholds(ClipPolicy policy, double... norms) {
        double[] out = new double[norms.length];
        for (int i = 0; i < norms.length; i++) {
            ClipDecision d = policy.decide(Steps.step(i, norms[i]), Signal.QUIET);
            out[i] = d instanceof ClipDecision.GlobalNorm g ? g.threshold() : Double.NaN;
            if (!(d instanceof ClipDecision.GlobalNorm)) {
                assertEquals(new ClipDecision.None(), d);
            }
        }
        return out;
    }

    @Test
    void medianOfOneToFiveIsThree() {
        double[] t = thresholds(new AutoClip(50, 0), 1, 2, 3, 4, 5);
        // Histories [1], [1,2], [1,2,3], [1..4], [1..5]: ranks 0, 0.5, 1, 1.5, 2.
        assertArrayEquals(new double[] {1, 1.5, 2, 2.5, 3}, t, EPS);
    }

    @Test
    void tenthPercentileOfOneToFiveIsOnePointFour() {
        // rank = 0.1 * 4 = 0.4: 1 + 0.4 * (2 - 1).
        assertEquals(1.4, thresholds(new AutoClip(10, 0), 1, 2, 3, 4, 5)[4], EPS);
    }

    @Test
    void theCurrentNormIsInTheHistoryBeforeThePercentileIsTaken() {
        // Out of order, so every step inserts somewhere else: [5], [1,5], [1,4,5], [1,2,4,5], [1,2,3,4,5].
        double[] t = thresholds(new AutoClip(50, 0), 5, 1, 4, 2, 3);
        assertArrayEquals(new double[] {5, 3, 4, 3, 3}, t, EPS);
    }

    @Test
    void percentileZeroIsTheMinimumAndHundredTheMaximum() {
        assertArrayEquals(new double[] {4, 2, 2, 1}, thresholds(new AutoClip(0, 0), 4, 2, 7, 1), EPS);
        assertArrayEquals(new double[] {4, 4, 7, 7}, thresholds(new AutoClip(100, 0), 4, 2, 7, 1), EPS);
    }

    @Test
    void aBoundedWindowForgetsTheOldestNorms() {
        // Window 3, maximum: [10], [10,1], [10,1,2], [1,2,3], [2,3,0.5], [3,0.5,0.25].
        assertArrayEquals(new double[] {10, 10, 10, 3, 3, 3},
                thresholds(new AutoClip(100, 3), 10, 1, 2, 3, 0.5, 0.25), EPS);
        // Duplicates leave one at a time: window 2 over 2, 2, 5, 2, 1.
        assertArrayEquals(new double[] {2, 2, 5, 5, 2}, thresholds(new AutoClip(100, 2), 2, 2, 5, 2, 1), EPS);
        // Window 1 is the current norm.
        assertArrayEquals(new double[] {3, 9, 0.5}, thresholds(new AutoClip(10, 1), 3, 9, 0.5), EPS);
    }

    @Test
    void matchesASortedCopyOfTheHistoryOnALongRandomRun() {
        Random random = new Random(42);
        for (int window : new int[] {0, 1, 7, 50}) {
            for (double p : new double[] {0, 10, 37.5, 90, 100}) {
                AutoClip policy = new AutoClip(p, window);
                List<Double> history = new ArrayList<>();
                for (int step = 0; step < 400; step++) {
                    // Rounded so that duplicates occur.
                    double norm = Math.round(random.nextDouble() * 20) / 4.0 + 0.25;
                    history.add(norm);
                    if (window > 0 && history.size() > window) {
                        history.remove(0);
                    }
                    double[] sorted = history.stream().mapToDouble(Double::doubleValue).sorted().toArray();
                    double rank = p / 100 * (sorted.length - 1);
                    int lo = (int) rank;
                    int hi = Math.min(lo + 1, sorted.length - 1);
                    double expected = sorted[lo] + (rank - lo) * (sorted[hi] - sorted[lo]);
                    ClipDecision d = policy.decide(Steps.step(step, norm), Signal.QUIET);
                    assertEquals(expected, ((ClipDecision.GlobalNorm) d).threshold(), EPS,
                            "window " + window + ", p " + p + ", step " + step);
                }
            }
        }
    }

    @Test
    void aZeroThresholdDecidesNone() {
        assertEquals(new ClipDecision.None(), new AutoClip(10, 0).decide(Steps.step(0, 0), Signal.QUIET));
        // History [0, 0, 5]: the 10th percentile (rank 0.2) is 0, the maximum is 5.
        assertArrayEquals(new double[] {Double.NaN, Double.NaN, Double.NaN},
                thresholds(new AutoClip(10, 0), 0, 0, 5), EPS);
        assertArrayEquals(new double[] {Double.NaN, Double.NaN, 5}, thresholds(new AutoClip(100, 0), 0, 0, 5), EPS);
    }

    @Test
    void aNonFiniteNormStaysOutOfTheHistory() {
        AutoClip policy = new AutoClip(100, 0);
        policy.decide(Steps.step(0, 2), Signal.QUIET);
        assertEquals(new ClipDecision.GlobalNorm(2), policy.decide(Steps.step(1, Double.POSITIVE_INFINITY),
                Signal.QUIET));
        assertEquals(new ClipDecision.GlobalNorm(2), policy.decide(Steps.step(2, Double.NaN), Signal.QUIET));
        assertEquals(new ClipDecision.GlobalNorm(3), policy.decide(Steps.step(3, 3), Signal.QUIET));
    }

    @Test
    void copyForgetsTheHistoryButKeepsTheSettings() {
        AutoClip policy = new AutoClip(50, 4);
        thresholds(policy, 100, 200, 300);
        ClipPolicy copy = ClipPolicies.create(policy.name(), policy.settings());
        assertNotSame(policy, copy);
        assertInstanceOf(AutoClip.class, copy);
        assertEquals(policy.settings(), copy.settings());
        assertEquals(new ClipDecision.GlobalNorm(1), copy.decide(Steps.step(0, 1), Signal.QUIET));
        // The original still has its history: [100, 200, 300, 1] has median 100 + 0.5 * (200 - 100) = 150.
        assertEquals(new ClipDecision.GlobalNorm(150), policy.decide(Steps.step(3, 1), Signal.QUIET));
    }

    @Test
    void nameAndSettingsInOrder() {
        AutoClip policy = new AutoClip(25, 100);
        assertEquals("autoclip", policy.name());
        assertEquals(List.of("percentile", "window"), List.copyOf(policy.settings().keySet()));
        assertEquals(Map.of("percentile", 25.0, "window", 100.0), policy.settings());
        assertThrows(UnsupportedOperationException.class, () -> policy.settings().put("window", 1.0));
    }

    @ParameterizedTest
    @ValueSource(doubles = {Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY, -0.5, 100.5})
    void rejectsPercentilesOutsideZeroToHundred(double bad) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new AutoClip(bad, 0));
        assertEquals("percentile must be a number in [0.0, 100.0], was " + bad, e.getMessage());
    }

    @Test
    void rejectsNegativeWindows() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new AutoClip(10, -1));
        assertEquals("window must be a whole number >= 0, was -1", e.getMessage());
    }
}
