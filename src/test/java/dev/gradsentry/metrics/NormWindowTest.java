package dev.gradsentry.metrics;

import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class NormWindowTest {

    private static final long SECOND = 1_000_000_000L;

    private static void step(NormWindow w, long nanos, double... values) {
        int slot = w.slot(nanos);
        for (int s = 0; s < values.length; s++) {
            w.observe(slot, s, values[s]);
        }
        w.publish(nanos);
    }

    @Test
    void aOneStepSpikeStaysForTheWholeWindowWhateverIsReadMeanwhile() {
        NormWindow w = new NormWindow(Duration.ofSeconds(15), 2);
        long t = 1000 * SECOND;
        step(w, t, 1.0, 0.5);
        step(w, t + SECOND, 300.0, 0.4);
        for (long s = 2; s < 15; s++) {
            step(w, t + s * SECOND, 1.0, 0.6);
            // reading, by any number of scrapers, changes nothing
            assertEquals(300.0, w.max(0, t + s * SECOND));
            assertEquals(300.0, w.max(0, t + s * SECOND));
            assertEquals(0.4, w.min(1, t + s * SECOND));
        }
        assertEquals(300.0, w.max(0, t + 16 * SECOND - 1), "a window after the spike it is still covered");
        assertEquals(1.0, w.max(0, t + 21 * SECOND), "a third of a window later it has left");
        assertEquals(0.6, w.min(1, t + 21 * SECOND));
    }

    @Test
    void withoutStepsTheWindowEmptiesAndNaNsAreLeftOut() {
        NormWindow w = new NormWindow(Duration.ofSeconds(3), 1);
        assertTrue(Double.isNaN(w.max(0, 0)), "no step yet");
        step(w, 10 * SECOND, Double.NaN);
        assertTrue(Double.isNaN(w.max(0, 10 * SECOND)), "a NaN norm is not a maximum");
        step(w, 10 * SECOND, Double.POSITIVE_INFINITY);
        step(w, 10 * SECOND, 2.0);
        assertEquals(Double.POSITIVE_INFINITY, w.max(0, 10 * SECOND));
        assertEquals(2.0, w.min(0, 10 * SECOND));
        assertTrue(Double.isNaN(w.max(0, 15 * SECOND)), "nothing trained in the last window");
    }
}
