package dev.gradsentry.core.detect;

import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DivergenceDetectorTest {

    @Test
    void aDecreasingLossNeverDiverges() {
        DivergenceDetector d = new DivergenceDetector(3.0, 3);
        for (int i = 0; i < 500; i++) {
            assertFalse(d.observe(2.3 * Math.exp(-i / 100.0) + 0.1));
        }
    }

    /**
     * A recall task solved to 100% accuracy has a loss near zero whose batches vary by factors of ten: with the mean
     * alone as the scale, that noise was "divergence", and the guard rolled a solved run back until it paused.
     */
    @Test
    void theNoiseOfAConvergedLossNearZeroIsNotDivergence() {
        DivergenceDetector d = new DivergenceDetector(3.0, 3);
        Random r = new Random(1);
        d.observe(1.39); // ln(4): where the run started
        for (int i = 0; i < 50; i++) {
            d.observe(0.001 * (1 + r.nextDouble()));
        }
        for (int i = 0; i < 10; i++) {
            assertFalse(d.observe(0.02), "20x the converged mean, but far below the run's scale");
        }
        assertFalse(d.observe(0.5));
        assertFalse(d.observe(0.6));
        assertTrue(d.observe(0.7), "climbing back towards the first loss is divergence");
    }

    /** After a rollback to an earlier, worse state its losses start a new window instead of "diverging" at once. */
    @Test
    void afterARestartTheLossesOfTheRestoredStateStartANewWindow() {
        DivergenceDetector d = new DivergenceDetector(3.0, 3);
        d.observe(2.0);
        for (int i = 0; i < 50; i++) {
            d.observe(0.2);
        }
        d.restart();
        for (int i = 0; i < 10; i++) {
            assertFalse(d.observe(1.5), "the restored state's loss is its own scale");
        }
        assertTrue(d.observe(5) | d.observe(5) | d.observe(5), "and a blow-up from there still diverges");
    }

    @Test
    void oneBadBatchIsNotDivergence() {
        DivergenceDetector d = new DivergenceDetector(3, 3, 10);
        for (int i = 0; i < 10; i++) {
            d.observe(1.0);
        }
        assertFalse(d.observe(5.0));
        assertFalse(d.observe(1.0));
        assertEquals(0, d.streak());
    }

    @Test
    void aLossThatStaysAboveFactorTimesTheWindowDivergesAfterPatienceSteps() {
        DivergenceDetector d = new DivergenceDetector(3, 3, 10);
        for (int i = 0; i < 10; i++) {
            d.observe(1.0 + 0.1 * (i % 2));
        }
        assertEquals(1.05, d.windowMean(), 1e-12);
        assertFalse(d.observe(3.2));
        assertFalse(d.observe(4.0));
        assertTrue(d.observe(3.5));
        assertEquals(3, d.streak());
        assertEquals(1.05, d.windowMean(), 1e-12, "diverging losses stay out of the window");
    }

    @Test
    void judgesFromTheFirstLossOn() {
        DivergenceDetector d = new DivergenceDetector(3.0, 3);
        d.observe(2.46);
        assertFalse(d.observe(19.8));
        assertFalse(d.observe(21.0));
        assertTrue(d.observe(21.8), "an MLP wrecked by its first SGD step");
    }

    @Test
    void theWindowSlides() {
        DivergenceDetector d = new DivergenceDetector(3, 1, 4);
        for (double loss : new double[] {10, 10, 10, 10, 1, 1, 1, 1}) {
            d.observe(loss);
        }
        assertEquals(1.0, d.windowMean(), 1e-12);
        assertTrue(d.observe(3.0));
    }

    @Test
    void validatesItsSettings() {
        assertThrows(IllegalArgumentException.class, () -> new DivergenceDetector(1, 3, 10));
        assertThrows(IllegalArgumentException.class, () -> new DivergenceDetector(3, 0, 10));
        assertThrows(IllegalArgumentException.class, () -> new DivergenceDetector(3, 3, 0));
    }
}
