package dev.gradsentry.bench;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MedianIntervalTest {

    @Test
    void ranksMatchThePublishedTableForTheMedian() {
        // Conover, Practical Nonparametric Statistics: n = 100 gives ranks 40 and 61; n = 10 gives 2 and 9.
        assertEquals(40, MedianInterval.lowerRank(100));
        assertEquals(2, MedianInterval.lowerRank(10));
        assertEquals(1, MedianInterval.lowerRank(6));
    }

    @Test
    void theIntervalIsTheOrderStatisticsAroundTheMedian() {
        List<Double> values = new ArrayList<>();
        for (int i = 100; i >= 1; i--) {
            values.add((double) i);
        }
        MedianInterval m = MedianInterval.of(values);
        assertEquals(50.5, m.median());
        assertEquals(40.0, m.low());
        assertEquals(61.0, m.high());
    }

    @Test
    void aboutNineteenIntervalsInTwentyHoldTheTrueMedian() {
        Random random = new Random(7);
        int trials = 2000;
        int held = 0;
        for (int t = 0; t < trials; t++) {
            List<Double> sample = new ArrayList<>();
            for (int i = 0; i < 60; i++) {
                sample.add(Math.exp(random.nextGaussian())); // lognormal: true median 1, a long right tail
            }
            MedianInterval m = MedianInterval.of(sample);
            held += m.low() <= 1 && 1 <= m.high() ? 1 : 0;
        }
        double coverage = (double) held / trials;
        assertTrue(coverage >= 0.94 && coverage <= 0.985, "coverage " + coverage);
    }

    @Test
    void tooFewValuesAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> MedianInterval.of(List.of(1.0, 2.0, 3.0)));
    }
}
